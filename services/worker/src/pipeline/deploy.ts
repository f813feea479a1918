/**
 * The deploy pipeline, top to bottom as the data flows (SPEC §3):
 * archive → unpack → SourceDir → build → BuiltImage → run (start → health → switch) → Live.
 * Rollbacks and restarts take the kept image as their BuiltImage and enter the same run, no rebuild.
 * Where versions run (one engine, or a swarm) is the runner's business (runners/).
 */
import path from 'node:path';
import type { DeployJob } from '@slipway/contracts/job';
import { imageName } from '@slipway/contracts/names';
import { dataPaths } from '@slipway/runtime/config';
import type { WorkerContext } from '../context';
import { labelsFor } from '../docker/labels';
import { PipelineError } from '../errors';
import type { Reporter } from './reporter';
import { runnerFor } from '../runners';
import type { Target } from '../runners/runner';
import { build, type BuiltImage } from '../stages/build';
import type { Live } from '../stages/switch';
import { unpack } from '../stages/unpack';

export async function deploy(ctx: WorkerContext, job: Extract<DeployJob, { kind: 'deploy' }>, report: Reporter): Promise<Live> {
  const { settings, engine } = ctx;
  await report.enter('unpack');
  const source = await unpack({
    archivePath: job.archivePath,
    appDir: path.join(dataPaths(settings.dataDir).cluster, job.app),
    version: job.version,
    stagingId: job.deployId,
    maxBytes: settings.maxUnpackedBytes,
    maxFiles: settings.maxFiles,
  });
  report.log(`Unpacked ${source.files} entries (${(source.bytes / 1048576).toFixed(1)} MiB)`);

  await report.enter('build');
  const { kind, outputDir } = await ctx.store.getSettings(job.app);
  const built = await build(
    engine,
    {
      source,
      image: imageName(settings.imagePrefix, job.app, job.version),
      labels: labelsFor(job.app, job.version, job.deployId, settings.instance),
      baseImage: settings.baseImage,
      siteImage: settings.siteImage,
      timeoutMs: settings.buildTimeoutMs,
      limits: { memoryBytes: settings.buildMemoryBytes, cpus: settings.buildCpus, pids: settings.buildPids, networkPool: settings.networkPool },
      kind,
      outputDir,
    },
    (line) => {
      report.log(line);
      const step = /^Step (\d+)\/(\d+) :/.exec(line);
      if (step) void report.within(Number(step[1]) / Number(step[2]));
    },
  );
  report.log(`Built ${built.image} (${built.imageId.replace(/^sha256:/, '').slice(0, 12)})`);
  if (built.site) report.log(`Serving ${built.site.dir === '.' ? 'the archive as it is' : `${built.site.dir}/`} (${built.site.files} files)`);
  await recordBuild(ctx, job, built);
  if (built.kind) await report.built({ kind: built.kind, ...(built.site ? { site: built.site } : {}) });

  const runner = runnerFor(ctx);
  await runner.publish(built, job, report);
  return runner.run(built, job, report);
}

/** A rollback or a restart: the kept image of `version` runs again, through the same health-gated switch. */
export async function rerun(ctx: WorkerContext, job: Target, report: Reporter): Promise<Live> {
  const kept = await keptImage(ctx, job);
  report.log(`Re-running ${kept.image} (no rebuild)`);
  const runner = runnerFor(ctx);
  await runner.publish(kept, job, report);
  return runner.run(kept, job, report);
}

async function keptImage(ctx: WorkerContext, job: Target): Promise<BuiltImage> {
  const image = imageName(ctx.settings.imagePrefix, job.app, job.version);
  const imageId = await ctx.engine.images.id(image);
  if (!imageId) {
    throw new PipelineError('image_pruned', `The image of ${job.app} ${job.version} is gone; build it again with POST /api/apps/${job.app}/versions/${job.version}/rebuild`);
  }
  return { image, imageId };
}

/** The version remembers how it was built (the panel shows it; a rollback keeps it). */
async function recordBuild(ctx: WorkerContext, job: Target, built: BuiltImage): Promise<void> {
  const version = await ctx.store.getVersion(job.app, job.version);
  if (version) await ctx.store.putVersion(job.app, { ...version, ...(built.kind ? { kind: built.kind } : {}), ...(built.site ? { site: built.site } : {}) });
}
