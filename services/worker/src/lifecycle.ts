/**
 * start, stop and delete (SPEC §4): they run in the app's line like deploys, so they never race one.
 * Stop keeps the container (a start brings the same one back); the gateway answers 503 meanwhile.
 * Delete removes the app's containers, images, files and records, proven the app's by their labels.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DeployJob } from '@slipway/contracts/job';
import { dataPaths } from '@slipway/core/config';
import { settleOp } from '@slipway/core/enqueue';
import { appLogDir } from '@slipway/core/logs';
import { notify } from '@slipway/core/notify';
import { keys } from '@slipway/core/redis';
import { announceRoute } from '@slipway/core/routes';
import type { WorkerContext } from './context';
import { LABEL } from './docker/labels';
import { PipelineError } from './errors';
import { probe, probeHost, waitHealthy } from './stages/health';
import { removeService, scaleService } from './swarm';
import type { Watcher } from './watch';

type LifecycleJob = Extract<DeployJob, { kind: 'lifecycle' }>;

export class LifecycleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function runLifecycle(ctx: WorkerContext, watcher: Watcher, job: LifecycleJob): Promise<void> {
  await ctx.redis.hset(keys.op(job.deployId), 'status', 'running');
  try {
    if (job.action === 'stop') await stopApp(ctx, watcher, job.app);
    else if (job.action === 'start') await startApp(ctx, job.app);
    else await deleteApp(ctx, watcher, job.app);
    await settleOp(ctx.redis, job.deployId, { status: 'succeeded' });
  } catch (err) {
    const known = err instanceof LifecycleError ? err : err instanceof PipelineError ? new LifecycleError(409, err.code, err.message) : null;
    const error = known ? { status: known.status, code: known.code, message: known.message } : { status: 500, code: 'internal', message: (err as Error).message };
    await settleOp(ctx.redis, job.deployId, { status: 'failed', error });
    ctx.log.warn({ app: job.app, action: job.action, err: error.message }, 'lifecycle action failed');
  } finally {
    await ctx.redis.lrem(keys.appLine(job.app), 0, job.deployId);
  }
}

async function stopApp(ctx: WorkerContext, watcher: Watcher, app: string): Promise<void> {
  const record = await ctx.store.getAppRecord(app);
  if (!record.containerId || !record.current) throw new LifecycleError(409, 'not_running', `${app} has no running version to stop`);
  if (record.status === 'stopped') return;
  await watcher.end(app);
  // The gateways let running requests finish before the container is told to stop.
  await announceRoute(ctx.redis, { app, version: null, port: null, previousPort: record.port ?? null }, ctx.settings.stopGraceS * 1000);
  if (ctx.settings.orchestrator === 'swarm') await scaleService(ctx, app, 0);
  else await ctx.engine.stop(record.containerId, ctx.settings.stopGraceS);
  await ctx.store.setAppRecord(app, { ...record, status: 'stopped' });
  await notify(ctx.redis, { type: 'app', app, change: 'stopped', version: record.current });
}

async function startApp(ctx: WorkerContext, app: string): Promise<void> {
  const record = await ctx.store.getAppRecord(app);
  if (!record.containerId || !record.current || !record.port) throw new LifecycleError(409, 'not_running', `${app} has no version to start; deploy one first`);
  if (ctx.settings.orchestrator === 'swarm') {
    await scaleService(ctx, app, 1);
    await waitAnswering(ctx, app, record.port);
    await ctx.store.setAppRecord(app, { ...record, status: 'running' });
    await announceRoute(ctx.redis, { app, version: record.current, port: record.port, previousPort: null }, 0);
    await notify(ctx.redis, { type: 'app', app, change: 'started', version: record.current });
    return;
  }
  const state = await ctx.engine.state(record.containerId);
  if (!state) throw new LifecycleError(409, 'not_running', `The container of ${app} ${record.current} is gone; roll back or deploy to run it again`);
  if (!state.running) await ctx.engine.start(record.containerId);
  const settings = await ctx.store.getSettings(app);
  await waitHealthy(ctx.engine, {
    candidate: { containerId: record.containerId, name: '', finalName: '', hostPort: record.port, containerPort: 0, address: null },
    host: probeHost(ctx.settings.bind),
    path: settings.healthPath,
    timeoutMs: ctx.settings.healthTimeoutMs,
  });
  // A container that ran again may have another address on its network.
  const address = await ctx.engine.containerAddress(record.containerId);
  await ctx.store.setAppRecord(app, { ...record, address: address ?? undefined, status: 'running' });
  await announceRoute(ctx.redis, { app, version: record.current, port: record.port, address, previousPort: null }, 0);
  await notify(ctx.redis, { type: 'app', app, change: 'started', version: record.current });
}

async function deleteApp(ctx: WorkerContext, watcher: Watcher, app: string): Promise<void> {
  await watcher.end(app);
  const record = await ctx.store.getAppRecord(app);
  await announceRoute(ctx.redis, { app, version: null, port: null, previousPort: record.port ?? null, deleted: true }, ctx.settings.stopGraceS * 1000);
  // Deploys still waiting behind this delete are cancelled: the app they would deploy to is gone.
  for (const id of await ctx.redis.lrange(keys.appLine(app), 0, -1)) {
    const deploy = id.startsWith('d') ? await ctx.store.getDeploy(id) : null;
    if (deploy?.status === 'queued') await (await ctx.queue.getJob(id))?.remove().catch(() => {});
  }
  if (ctx.settings.orchestrator === 'swarm') await removeService(ctx, app);
  for (const container of await ctx.engine.listContainers({ [LABEL.app]: app })) {
    await ctx.engine.stopAndRemove(container.id, ctx.settings.stopGraceS);
  }
  for (const image of await ctx.engine.listImages(app)) await ctx.engine.removeImageById(image.id);
  // Its network goes once no container of it is left (SPEC §3 "Networks").
  await ctx.engine.removeNetworks({ [LABEL.app]: app });
  const data = dataPaths(ctx.settings.dataDir);
  await rm(path.join(data.cluster, app), { recursive: true, force: true });
  await rm(path.join(data.archives, app), { recursive: true, force: true });
  await ctx.logs.forget(app);
  await rm(appLogDir(ctx.settings.dataDir, app), { recursive: true, force: true });
  await ctx.store.deleteApp(app);
  await notify(ctx.redis, { type: 'app', app, change: 'deleted' });
}

/** A scaled-up service answers its health path on its published port. */
async function waitAnswering(ctx: WorkerContext, app: string, port: number): Promise<void> {
  const { healthPath } = await ctx.store.getSettings(app);
  const deadline = Date.now() + ctx.settings.healthTimeoutMs;
  while (Date.now() < deadline) {
    const status = await probe(probeHost(ctx.settings.bind), port, healthPath, 2000);
    if (typeof status === 'number' && status < 500) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LifecycleError(409, 'unhealthy', `${app} did not answer GET ${healthPath} after starting`);
}
