import type Router from '@koa/router';
import { apiRouter } from './router';
import type { QueueAnswer } from '@slipway/contracts/responses';
import type { QueueJob } from '@slipway/contracts/job';
import { QueueQuerySchema } from '@slipway/contracts/requests';
import type { ApiContext } from '../context';
import { requireRedis } from '../middleware/redis-guard';
import { query } from '../middleware/validate';

/** What is listed, and how many of each: everything in flight, and the recent finished ones BullMQ keeps. */
const LISTED = { active: 99, waiting: 99, delayed: 99, failed: 19, completed: 19 } as const;

export function queueRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  router.get('/api/queue', async (koa) => {
    const { app } = query(koa, QueueQuerySchema);
    const counts = await ctx.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    const jobs: QueueJob[] = [];
    for (const [state, last] of Object.entries(LISTED) as Array<[keyof typeof LISTED, number]>) {
      // With an app named, finished jobs are looked for further back: they are filtered after reading.
      const batch = (await ctx.queue.getJobs([state], 0, app && (state === 'completed' || state === 'failed') ? 499 : last)).filter((job) => !app || job.data.app === app).slice(0, last + 1);
      const deploys = await ctx.store.getDeploys(batch.map((job) => job.data.deployId));
      const byId = new Map(deploys.map((d) => [d.id, d]));
      for (const job of batch) {
        const deploy = byId.get(job.data.deployId);
        const finished = job.finishedOn && (state === 'completed' || state === 'failed');
        jobs.push({
          deployId: job.data.deployId,
          app: job.data.app,
          version: 'version' in job.data ? job.data.version : '',
          state,
          stage: deploy?.stage ?? (state === 'completed' ? 'done' : 'queued'),
          progress: deploy?.progress ?? (state === 'completed' ? 100 : 0),
          kind: job.data.kind === 'lifecycle' ? job.data.action : job.data.kind,
          ...(finished ? { finishedAt: new Date(job.finishedOn!).toISOString(), durationMs: job.finishedOn! - (job.processedOn ?? job.timestamp) } : {}),
          ...(state === 'failed' && (deploy?.error?.message ?? job.failedReason) ? { error: (deploy?.error?.message ?? job.failedReason).slice(0, 500) } : {}),
        });
      }
    }
    koa.body = {
      counts: {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
        delayed: counts.delayed ?? 0,
      },
      jobs,
    } satisfies QueueAnswer;
  });

  return router;
}
