/**
 * The deploy pipeline, top to bottom as the data flows (SPEC §3):
 * archive → unpack → SourceDir → build → BuiltImage → start → Candidate → health → Healthy → switch → Live.
 * Rollbacks and restarts re-run a kept image: start → health → switch, no rebuild.
 * A candidate that fails after it started is removed here, with its last log lines kept for the record.
 */
import path from 'node:path';
import type { DeployJob } from '@slipway/contracts/job';
import { dataPaths } from '@slipway/core/config';
import type { WorkerContext } from './context';
import { LABEL, labelsFor } from './docker/labels';
import { PipelineError } from './errors';
import type { Reporter } from './reporter';
import { build } from './stages/build';
import { probeHost, waitHealthy } from './stages/health';
import { start, type Candidate } from './stages/start';
import { switchTo, type Live } from './stages/switch';
import { unpack } from './stages/unpack';
import { publishImage, runOnSwarm } from './swarm';
import { imageName } from '@slipway/contracts/names';

type Target = { app: string; version: string; deployId: string };

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
  const built = await build(
    engine,
    {
      source,
      image: imageName(ctx.settings.imagePrefix, job.app, job.version),
      labels: labelsFor(job.app, job.version, job.deployId, settings.instance),
      baseImage: settings.baseImage,
      timeoutMs: settings.buildTimeoutMs,
      limits: { memoryBytes: settings.buildMemoryBytes, cpus: settings.buildCpus, pids: settings.buildPids, networkPool: settings.networkPool },
    },
    (line) => {
      report.log(line);
      const step = /^Step (\d+)\/(\d+) :/.exec(line);
      if (step) void report.within(Number(step[1]) / Number(step[2])).catch(() => {});
    },
  );
  report.log(`Built ${built.image} (${built.imageId.replace(/^sha256:/, '').slice(0, 12)})`);
  if (settings.orchestrator === 'swarm') {
    await publishImage(ctx, job, report);
    return runOnSwarm(ctx, job, report);
  }
  return runCandidate(ctx, job, report);
}

/** A rollback or a restart: the kept image of `version` runs again, through the same health-gated switch. */
export async function rerun(ctx: WorkerContext, job: Target, report: Reporter): Promise<Live> {
  const image = imageName(ctx.settings.imagePrefix, job.app, job.version);
  if (!(await ctx.engine.imageExists(image))) {
    throw new PipelineError('image_pruned', `The image of ${job.app} ${job.version} is gone; build it again with POST /api/apps/${job.app}/versions/${job.version}/rebuild`);
  }
  report.log(`Re-running ${image} (no rebuild)`);
  return ctx.settings.orchestrator === 'swarm' ? runOnSwarm(ctx, job, report) : runCandidate(ctx, job, report);
}

/** start → health → switch. */
async function runCandidate(ctx: WorkerContext, target: Target, report: Reporter): Promise<Live> {
  const { settings, engine, store } = ctx;
  await report.enter('start');
  const [appSettings, record, managed] = await Promise.all([
    store.getSettings(target.app),
    store.getAppRecord(target.app),
    engine.listContainers({ [LABEL.managed]: true }),
  ]);
  const candidate = await start(engine, {
    ...target,
    image: imageName(ctx.settings.imagePrefix, target.app, target.version),
    labels: labelsFor(target.app, target.version, target.deployId, settings.instance),
    settings: appSettings,
    bind: settings.bind,
    stopGraceS: settings.stopGraceS,
    liveContainerId: record.containerId,
    takenPorts: managed.flatMap((c) => c.ports.map((p) => p.hostPort)).filter((p): p is number => typeof p === 'number'),
    networkPool: settings.networkPool,
  });
  report.log(`Started ${candidate.name} on ${settings.bind}:${candidate.hostPort} (container port ${candidate.containerPort})`);

  try {
    await report.enter('health');
    const healthy = await waitHealthy(
      engine,
      { candidate, host: probeHost(settings.bind), path: appSettings.healthPath, timeoutMs: settings.healthTimeoutMs },
      (fraction) => void report.within(fraction).catch(() => {}),
    );
    report.log(`Healthy: GET ${appSettings.healthPath} answered ${healthy.status} after ${healthy.afterMs} ms`);

    await report.enter('switch');
    return await switchTo(ctx, { ...target, healthy, stopGraceS: settings.stopGraceS }, (line) => report.log(line));
  } catch (err) {
    throw await discard(ctx, candidate, err);
  }
}


/** Removes a failed candidate; the error gains its last 50 log lines (SPEC §3). */
async function discard(ctx: WorkerContext, candidate: Candidate, err: unknown): Promise<unknown> {
  const logs = await ctx.engine.tailLogs(candidate.containerId, 50);
  await ctx.engine.remove(candidate.containerId).catch((e: Error) => ctx.log.warn({ err: e.message }, 'could not remove candidate'));
  if (err instanceof PipelineError) return new PipelineError(err.code, err.message, err.retryable, logs);
  return err;
}
