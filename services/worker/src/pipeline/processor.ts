/**
 * What the worker does with one BullMQ job: wait for the app's turn, run the pipeline, and settle the
 * deploy whatever happens. User faults fail at once (UnrecoverableError); engine hiccups get one retry.
 * After a successful switch: retention, the post-switch watch, notifications and webhooks.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Deploy } from '@slipway/contracts/deploy';
import { DeployJobSchema, type DeployJob } from '@slipway/contracts/job';
import { imageName } from '@slipway/contracts/names';
import { countOutcome } from '@slipway/records/counters';
import { appendEvents } from '@slipway/records/events';
import { notify } from '@slipway/records/notify';
import { RecordLostError } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import { deploy, rerun } from './deploy';
import { EngineError } from '../docker/engine';
import { PipelineError } from '../errors';
import { confinedArchive } from '../jobs/job-paths';
import { runLifecycle } from './lifecycle';
import { leaveLine, takeTurn } from '../jobs/ordering';
import { Reporter } from './reporter';
import { prune } from '../after-switch/retention';
import { runnerFor } from '../runners';
import { discardVersion, dropFailedArchives } from '../stages/cleanup';
import type { Live } from '../stages/switch';
import type { Watcher } from '../after-switch/watch';
import type { Webhooks } from '../after-switch/webhooks';
import type { Sampler } from '../observe/sampler';

/** How long a job waiting for its app's turn sleeps per deploy ahead of it before asking again (it is woken when its turn comes). */
const TURN_RETRY_MS = 500;
const TURN_RETRY_MAX_MS = 15_000;

const ENGINE_RETURN_MS = 60_000;

type PipelineJob = Extract<DeployJob, { kind: 'deploy' | 'rollback' | 'restart' }>;

export interface Services {
  watcher: Watcher;
  webhooks: Webhooks;
  sampler: Sampler;
}

export function createProcessor(ctx: WorkerContext, services: Services) {
  return async function process(job: Job<DeployJob>, token?: string): Promise<{ port?: number }> {
    const parsed = DeployJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`Invalid job payload: ${parsed.error.message}`);
    const data = parsed.data;

    const ahead = await takeTurn(ctx.redis, data.app, data.deployId);
    if (ahead > 0) {
      await job.moveToDelayed(Date.now() + Math.min(TURN_RETRY_MS * ahead, TURN_RETRY_MAX_MS), token);
      throw new DelayedError();
    }
    if (data.kind === 'lifecycle') {
      await runLifecycle(ctx, services.watcher, data);
      return {};
    }
    return runPipeline(ctx, services, job, data);
  };
}

async function runPipeline(ctx: WorkerContext, services: Services, job: Job<DeployJob>, data: PipelineJob): Promise<{ port?: number }> {
  const record = await ctx.store.getDeploy(data.deployId);
  if (!record || record.status === 'succeeded' || record.status === 'failed') {
    // Settled elsewhere (e.g. marked failed by reconciliation): nothing left to do.
    await leaveLine(ctx.redis, data.app, data.deployId, ctx.queue);
    return { port: record?.port };
  }
  if (data.kind === 'deploy') {
    // Proven before anything else happens: a tampered payload must not even end the app's watch.
    try {
      data = { ...data, archivePath: await confinedArchive(ctx.settings.dataDir, data.archivePath) };
    } catch (err) {
      const failure = asPipelineError(err);
      await refuse(ctx, services, data, failure);
      throw new UnrecoverableError(failure.message);
    }
  }
  // Counted here: BullMQ's own counters also count the turns a job waited behind its app's line.
  const attempt = (record.attempts ?? 0) + 1;
  const report = new Reporter(ctx.redis, ctx.store, data.deployId);
  const running = await report.running(attempt, record.startedAt ?? new Date().toISOString());
  await notify(ctx.redis, { type: 'deploy', deploy: running });
  // A newer deploy of the app supersedes the watch of the previous one.
  await services.watcher.end(data.app);
  ctx.log.info({ deployId: data.deployId, kind: data.kind, app: data.app, version: data.version, attempt }, 'deploy started');

  try {
    if (record.status === 'running') {
      await runnerFor(ctx).clearInterrupted(data);
      await appendEvents(ctx.redis, data.deployId, [
        { type: 'log', stage: record.stage, line: 'The previous attempt was interrupted (its worker stopped); starting again' },
      ]);
    }
    const live = data.kind === 'deploy' ? await deploy(ctx, data, report) : await rerun(ctx, data, report);
    await succeed(ctx, services, data, live, report);
    return { port: live.port };
  } catch (err) {
    const failure = asPipelineError(err);
    const final = !failure.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    await flushLog(ctx, report, data.deployId);
    // An engine that went away (restarting) gets time to come back, so that the cleanup and the retry can
    // find it. Nothing here may throw: an error escaping this block would end the job without a record of why.
    if (failure.code === 'engine_error') await waitForEngine(ctx, ENGINE_RETURN_MS);
    await runnerFor(ctx).clearInterrupted(data).catch((e: Error) => ctx.log.warn({ deployId: data.deployId, err: e.message }, 'could not remove the candidate yet; reconcile will'));
    if (!final) {
      ctx.log.warn({ deployId: data.deployId, err: failure.message }, 'deploy attempt failed; retrying');
      await appendEvents(ctx.redis, data.deployId, [{ type: 'log', stage: report.stage, line: `Attempt failed, retrying: ${failure.message}` }]);
      await report.requeued();
      throw failure;
    }
    await fail(ctx, services, data, failure, report);
    throw new UnrecoverableError(failure.message);
  }
}

async function succeed(ctx: WorkerContext, services: Services, job: PipelineJob, live: Live, report: Reporter): Promise<void> {
  // Retention is part of the deploy: when it reports done, the versions it shows are final.
  await prune(ctx, job.app).catch((err: Error) => ctx.log.warn({ app: job.app, err: err.message }, 'pruning failed'));
  const deploy = await report.succeeded(live.port);
  await finish(ctx, services, job, deploy);
  const change = job.kind === 'deploy' ? 'switched' : job.kind === 'rollback' ? 'rolled_back' : 'restarted';
  await notify(ctx.redis, { type: 'app', app: job.app, change, version: job.version });
  // Its figures now, not at the next round: the panel shows them as soon as the deploy is done.
  void services.sampler.sampleApp(job.app).catch((err: Error) => ctx.log.debug({ app: job.app, err: err.message }, 'could not sample the new version'));
  if (job.kind === 'deploy') {
    await services.watcher.begin(job.app, { deployId: job.deployId, version: job.version, containerId: live.containerId, port: live.port });
  }
  ctx.log.info({ deployId: job.deployId, kind: job.kind, app: job.app, version: job.version, port: live.port, replaced: live.replaced }, 'deploy succeeded');
}

async function fail(ctx: WorkerContext, services: Services, job: PipelineJob, failure: PipelineError, report: Reporter): Promise<void> {
  const deploy = await report.failed(
    { code: failure.code, message: failure.message, ...(failure.logs?.length ? { logs: failure.logs } : {}) },
    { app: job.app, version: job.version, kind: job.kind, image: imageName(ctx.settings.imagePrefix, job.app, job.version) },
  );
  if (job.kind === 'deploy') {
    await ctx.store.settleVersion(job.app, job.version, job.deployId, 'failed');
    await discardVersion(ctx, job);
    await dropFailedArchives(ctx, job.app, { version: job.version, code: failure.code }).catch((err: Error) => ctx.log.warn({ app: job.app, err: err.message }, 'could not drop failed archives'));
  }
  await flushLog(ctx, report, job.deployId);
  await finish(ctx, services, job, deploy);
  ctx.log.warn({ deployId: job.deployId, kind: job.kind, app: job.app, version: job.version, code: failure.code, err: failure.message }, 'deploy failed');
}

/** The last build log lines of a failed job; losing them is said, not thrown (the failure must still be recorded). */
async function flushLog(ctx: WorkerContext, report: Reporter, deployId: string): Promise<void> {
  await report.flush().catch((err: Error) => ctx.log.warn({ deployId, err: err.message }, 'could not write the last build log lines'));
}

/** A job refused before it ran: its deploy (and a version it reserved) fail; no image, tree or archive is touched. */
async function refuse(ctx: WorkerContext, services: Services, job: PipelineJob, failure: PipelineError): Promise<void> {
  const deploy = await new Reporter(ctx.redis, ctx.store, job.deployId).failed({ code: failure.code, message: failure.message });
  await ctx.store.settleVersion(job.app, job.version, job.deployId, 'failed');
  await finish(ctx, services, job, deploy);
  ctx.log.warn({ deployId: job.deployId, app: job.app, version: job.version, code: failure.code }, 'job refused');
}

async function finish(ctx: WorkerContext, services: Services, job: PipelineJob, deploy: Deploy): Promise<void> {
  await appendEvents(ctx.redis, job.deployId, [{ type: 'done', deploy }]);
  await leaveLine(ctx.redis, job.app, job.deployId, ctx.queue);
  await notify(ctx.redis, { type: 'deploy', deploy });
  await countOutcome(ctx.redis, deploy).catch((err: Error) => ctx.log.warn({ deployId: job.deployId, err: err.message }, 'could not count the outcome for the dashboard'));
  await services.webhooks.deployFinished(deploy).catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not queue webhooks'));
}

export function asPipelineError(err: unknown): PipelineError {
  if (err instanceof PipelineError) return err;
  if (err instanceof EngineError) return new PipelineError('engine_error', err.message, true);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return new PipelineError('disk_full', 'No space left on the data disk; free some space and deploy again');
  if (err instanceof RecordLostError) {
    return new PipelineError('interrupted', "Slipway's records of this deploy were lost (Redis was emptied) while it ran");
  }
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET') {
    return new PipelineError('engine_error', `Docker engine unreachable: ${(err as Error).message}`, true);
  }
  return new PipelineError('internal', `Unexpected error: ${(err as Error).message ?? String(err)}`, true);
}

async function waitForEngine(ctx: WorkerContext, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !(await ctx.engine.ping(1000))) await new Promise((r) => setTimeout(r, 1000));
}
