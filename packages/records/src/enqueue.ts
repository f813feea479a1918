/**
 * Putting work in an app's line: record it, join the line, queue the job. Shared by the API (uploads,
 * rollbacks, restarts, start/stop/delete) and the worker (automatic rollbacks), so every path orders the
 * same way: the line is joined before the job exists, so the worker never sees a job that is not in line.
 */
import type { Redis } from 'ioredis';
import type { Deploy } from '@slipway/contracts/deploy';
import type { DeployJob } from '@slipway/contracts/job';
import { appendEvents } from './events';
import { newDeployId } from './ids';
import { notify } from './notify';
import { deployJobOptions, type DeployQueue } from './queue';
import { keys } from './redis';
import type { Store } from './store';
import { imageName } from '@slipway/contracts/names';

export interface EnqueueContext {
  redis: Redis;
  store: Store;
  queue: DeployQueue;
  imagePrefix: string;
}

type DeployJobData = Extract<DeployJob, { kind: 'deploy' | 'rollback' | 'restart' }>;
/** Omit over each member of a union (plain Omit would merge them and lose the kinds' own fields). */
type JobFields = DeployJobData extends infer T ? (T extends unknown ? Omit<T, 'deployId' | 'app' | 'version'> : never) : never;

export async function enqueueDeploy(
  ctx: EnqueueContext,
  input: Omit<Deploy, 'status' | 'stage' | 'progress' | 'image' | 'createdAt'> & { createdAt?: string },
  job: JobFields,
): Promise<Deploy> {
  const deploy: Deploy = {
    ...input,
    status: 'queued',
    stage: 'queued',
    progress: 0,
    image: imageName(ctx.imagePrefix, input.app, input.version),
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
  await ctx.store.createDeploy(deploy);
  await appendEvents(ctx.redis, deploy.id, [{ type: 'stage', stage: 'queued', progress: 0 }]);
  await ctx.redis.rpush(keys.appLine(deploy.app), deploy.id);
  await ctx.queue.add(deploy.kind, { ...job, deployId: deploy.id, app: deploy.app, version: deploy.version } as DeployJobData, deployJobOptions(deploy.id));
  await notify(ctx.redis, { type: 'deploy', deploy });
  return deploy;
}

export type LifecycleAction = 'start' | 'stop' | 'delete' | 'volume-export' | 'volume-restore';
export type LifecycleOptions = { removeVolumes?: boolean; volumePath?: string; file?: string };

export interface OpRecord {
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  action: LifecycleAction;
  app: string;
  error?: { status: number; code: string; message: string };
  /** volume-export: the archive made, under the data dir, for the API to send and delete. */
  file?: string;
}

const OP_TTL_S = 24 * 3600;

export async function enqueueLifecycle(ctx: EnqueueContext, app: string, action: LifecycleAction, options: LifecycleOptions = {}): Promise<string> {
  const id = `o${newDeployId().slice(1)}`;
  await ctx.redis.multi().hset(keys.op(id), { status: 'queued', action, app }).expire(keys.op(id), OP_TTL_S).exec();
  await ctx.redis.rpush(keys.appLine(app), id);
  await ctx.queue.add('lifecycle', { kind: 'lifecycle', deployId: id, app, action, ...options }, deployJobOptions(id));
  return id;
}

export async function getOp(redis: Redis, id: string): Promise<OpRecord | null> {
  const hash = await redis.hgetall(keys.op(id));
  if (!hash.status) return null;
  return {
    status: hash.status as OpRecord['status'],
    action: hash.action as LifecycleAction,
    app: hash.app ?? '',
    ...(hash.error ? { error: JSON.parse(hash.error) as OpRecord['error'] } : {}),
    ...(hash.file ? { file: hash.file } : {}),
  };
}

export async function settleOp(redis: Redis, id: string, outcome: Pick<OpRecord, 'status' | 'error' | 'file'>): Promise<void> {
  await redis.hset(keys.op(id), { status: outcome.status, ...(outcome.error ? { error: JSON.stringify(outcome.error) } : {}), ...(outcome.file ? { file: outcome.file } : {}) });
}
