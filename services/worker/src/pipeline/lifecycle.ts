/**
 * start, stop and delete (SPEC §4): they run in the app's line like deploys, so they never race one.
 * Stop keeps the container (a start brings the same one back); the gateway answers 503 meanwhile.
 * Delete removes the app's containers, images, files and records, proven the app's by their labels.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DeployJob } from '@slipway/contracts/job';
import { dataPaths } from '@slipway/runtime/config';
import { settleOp } from '@slipway/records/enqueue';
import { appLogDir } from '@slipway/records/app-logs';
import { notify } from '@slipway/records/notify';
import { keys } from '@slipway/records/redis';
import { announceRoute, leaving, routeTo } from '@slipway/records/route-announcements';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';
import { LifecycleError, PipelineError } from '../errors';
import { runnerFor } from '../runners';
import type { Watcher } from '../after-switch/watch';
import { exportVolume, restoreVolume } from './volume-ops';

type LifecycleJob = Extract<DeployJob, { kind: 'lifecycle' }>;

export async function runLifecycle(ctx: WorkerContext, watcher: Watcher, job: LifecycleJob): Promise<void> {
  await ctx.redis.hset(keys.op(job.deployId), 'status', 'running');
  try {
    let file: string | undefined;
    if (job.action === 'stop') await stopApp(ctx, watcher, job.app);
    else if (job.action === 'start') await startApp(ctx, job.app);
    else if (job.action === 'volume-export') file = await exportVolume(ctx, job);
    else if (job.action === 'volume-restore') await restoreVolume(ctx, job, { stop: () => stopApp(ctx, watcher, job.app), start: () => startApp(ctx, job.app) });
    else await deleteApp(ctx, watcher, job.app, job.removeVolumes === true);
    await settleOp(ctx.redis, job.deployId, { status: 'succeeded', ...(file ? { file } : {}) });
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
  await announceRoute(ctx.redis, { app, version: null, port: null, ...leaving(record) }, ctx.settings.stopGraceS * 1000);
  await runnerFor(ctx).stop(app, record);
  await ctx.store.setAppRecord(app, { ...record, status: 'stopped' });
  await notify(ctx.redis, { type: 'app', app, change: 'stopped', version: record.current });
}

async function startApp(ctx: WorkerContext, app: string): Promise<void> {
  const record = await ctx.store.getAppRecord(app);
  if (!record.containerId || !record.current || !record.port) throw new LifecycleError(409, 'not_running', `${app} has no version to start; deploy one first`);
  const { replicas } = await runnerFor(ctx).resume(app, record);
  await ctx.store.setAppRecord(app, { ...record, address: replicas[0]?.address, replicas, status: 'running' });
  await announceRoute(ctx.redis, { app, ...routeTo(record.current, replicas), previousPort: null }, 0);
  await notify(ctx.redis, { type: 'app', app, change: 'started', version: record.current });
}

async function deleteApp(ctx: WorkerContext, watcher: Watcher, app: string, removeVolumes: boolean): Promise<void> {
  await watcher.end(app);
  const record = await ctx.store.getAppRecord(app);
  await announceRoute(ctx.redis, { app, version: null, port: null, ...leaving(record), deleted: true }, ctx.settings.stopGraceS * 1000);
  // Deploys still waiting behind this delete are cancelled: the app they would deploy to is gone.
  for (const id of await ctx.redis.lrange(keys.appLine(app), 0, -1)) {
    const deploy = id.startsWith('d') ? await ctx.store.getDeploy(id) : null;
    // A job that started meanwhile cannot be removed; it fails by itself on the deleted app.
    if (deploy?.status === 'queued') await (await ctx.queue.getJob(id))?.remove().catch(() => {});
  }
  await runnerFor(ctx).remove(app);
  for (const image of await ctx.engine.images.list(app)) await ctx.engine.images.removeById(image.id);
  // Its network goes once no container of it is left (SPEC §3 "Networks").
  await ctx.engine.removeNetworks({ [LABEL.app]: app });
  // Volumes hold what the app wrote: kept (an app of the same name mounts them again) unless asked.
  if (removeVolumes) for (const volume of await ctx.engine.volumes.list({ [LABEL.app]: app })) await ctx.engine.volumes.remove(volume.name);
  const data = dataPaths(ctx.settings.dataDir);
  await rm(path.join(data.cluster, app), { recursive: true, force: true });
  await rm(path.join(data.archives, app), { recursive: true, force: true });
  await ctx.logs.forget(app);
  await rm(appLogDir(ctx.settings.dataDir, app), { recursive: true, force: true });
  await ctx.store.deleteApp(app);
  await notify(ctx.redis, { type: 'app', app, change: 'deleted' });
}
