import type Router from '@koa/router';
import { apiRouter } from './router';
import type { QueueAnswer } from '@slipway/contracts/responses';
import type { QueueJob } from '@slipway/contracts/job';
import type { ApiContext } from '../context';
import { requireRedis } from '../middleware/redis-guard';

const LISTED_STATES = ['active', 'waiting', 'delayed', 'failed'] as const;

export function queueRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  router.get('/api/queue', async (koa) => {
    const counts = await ctx.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    const jobs: QueueJob[] = [];
    for (const state of LISTED_STATES) {
      const batch = await ctx.queue.getJobs([state], 0, state === 'failed' ? 19 : 99);
      const deploys = await ctx.store.getDeploys(batch.map((job) => job.data.deployId));
      const byId = new Map(deploys.map((d) => [d.id, d]));
      for (const job of batch) {
        const deploy = byId.get(job.data.deployId);
        jobs.push({
          deployId: job.data.deployId,
          app: job.data.app,
          version: 'version' in job.data ? job.data.version : '',
          state,
          stage: deploy?.stage ?? 'queued',
          progress: deploy?.progress ?? 0,
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
