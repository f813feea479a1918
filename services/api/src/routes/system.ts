import type Router from '@koa/router';
import { apiRouter } from './router';
import type { OwnLogLinesAnswer } from '@slipway/contracts/responses';
import { OwnLogsQuerySchema, SeriesQuerySchema } from '@slipway/contracts/requests';
import { HOST_FIELDS, readSeries } from '@slipway/records/metrics';
import type { ApiContext } from '../context';
import { requireRedis } from '../middleware/redis-guard';
import { query } from '../middleware/validate';
import { readOwnLogs } from '../own-logs';
import { systemInfo } from '../system';
import { seriesWindow } from './series';

export function systemRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  router.get('/api/system', async (koa) => {
    koa.body = { system: await systemInfo(ctx) };
  });

  // `step=1h` is the hourly memory (and CPU, disk, network) history; each point is the mean of its samples.
  router.get('/api/system/metrics', async (koa) => {
    const { from, to, step } = seriesWindow(query(koa, SeriesQuerySchema));
    koa.body = { series: await readSeries(ctx.redis, 'host', from, to, step, HOST_FIELDS) };
  });

  router.get('/api/system/logs', async (koa) => {
    const { tail, level } = query(koa, OwnLogsQuerySchema);
    koa.body = { lines: await readOwnLogs(ctx.settings.dataDir, tail, level) } satisfies OwnLogLinesAnswer;
  });

  return router;
}
