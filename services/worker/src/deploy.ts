/**
 * The deploy pipeline, top to bottom as the data flows (SPEC §3):
 * archive → unpack → SourceDir → build → BuiltImage → start → Candidate → health → Healthy → switch → Live.
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
import { waitHealthy } from './stages/health';
import { start, type Candidate } from './stages/start';
import { switchTo, type Live } from './stages/switch';
import { unpack } from './stages/unpack';

type DeployOnly = Extract<DeployJob, { kind: 'deploy' }>;

export async function deploy(ctx: WorkerContext, job: DeployOnly, report: Reporter): Promise<Live> {
  const { settings, engine } = ctx;
  const labels = labelsFor(job.app, job.version, job.deployId);
  const image = `${settings.imagePrefix}${job.app}:${job.version}`;

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
    { source, image, labels, baseImage: settings.baseImage, timeoutMs: settings.buildTimeoutMs },
    (line) => {
      report.log(line);
      const step = /^Step (\d+)\/(\d+) :/.exec(line);
      if (step) void report.within(Number(step[1]) / Number(step[2])).catch(() => {});
    },
  );
  report.log(`Built ${built.image} (${built.imageId.replace(/^sha256:/, '').slice(0, 12)})`);

  return runCandidate(ctx, { app: job.app, version: job.version, deployId: job.deployId, image, labels }, report);
}

/** start → health → switch: shared by deploys and (later) rollbacks, which re-run a kept image. */
export async function runCandidate(
  ctx: WorkerContext,
  target: { app: string; version: string; deployId: string; image: string; labels: Record<string, string> },
  report: Reporter,
): Promise<Live> {
  const { settings, engine, store } = ctx;
  await report.enter('start');
  const taken = (await engine.listContainers({ [LABEL.managed]: true }))
    .flatMap((c) => c.ports.map((p) => p.hostPort))
    .filter((p): p is number => typeof p === 'number');
  const candidate = await start(engine, {
    ...target,
    bind: settings.bind,
    stopGraceS: settings.stopGraceS,
    takenPorts: taken,
  });
  report.log(`Started ${candidate.name} on ${settings.bind}:${candidate.hostPort} (container port ${candidate.containerPort})`);

  try {
    await report.enter('health');
    const healthy = await waitHealthy(
      engine,
      { candidate, host: probeHost(settings.bind), path: '/', timeoutMs: settings.healthTimeoutMs },
      (fraction) => void report.within(fraction).catch(() => {}),
    );
    report.log(`Healthy: GET / answered ${healthy.status} after ${healthy.afterMs} ms`);

    await report.enter('switch');
    return await switchTo(engine, store, { ...target, healthy, stopGraceS: settings.stopGraceS }, (line) => report.log(line));
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

/** Apps published on every address are still probed through loopback. */
function probeHost(bind: string): string {
  return bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
}
