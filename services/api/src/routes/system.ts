import type Router from '@koa/router';
import { apiRouter } from './router';
import { z } from 'zod';
import { HOST_FIELDS, readSeries } from '@slipway/core/metrics';
import type { ApiContext } from '../context';
import { requireRedis } from '../middleware/redis-guard';
import { query } from '../middleware/validate';
import { LEVELS, readOwnLogs, type LevelName } from '../own-logs';
import { systemInfo } from '../system';
import { seriesWindow, SeriesQuery } from './series';

const OwnLogsQuery = z.object({
  tail: z.coerce.number().int().min(1).max(5000).default(200),
  level: z.enum(Object.keys(LEVELS) as [LevelName, ...LevelName[]]).default('info'),
});

export function systemRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  router.get('/api/system', async (koa) => {
    koa.body = { system: await systemInfo(ctx) };
  });

  // `step=1h` is the hourly memory (and CPU, disk, network) history; each point is the mean of its samples.
  router.get('/api/system/metrics', async (koa) => {
    const { from, to, step } = seriesWindow(query(koa, SeriesQuery));
    koa.body = { series: await readSeries(ctx.redis, 'host', from, to, step, HOST_FIELDS) };
  });

  router.get('/api/system/logs', async (koa) => {
    const { tail, level } = query(koa, OwnLogsQuery);
    koa.body = { lines: await readOwnLogs(ctx.settings.dataDir, tail, level) };
  });

  return router;
}
