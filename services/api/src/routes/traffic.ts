import type Router from '@koa/router';
import { apiRouter } from './router';
import type { TrafficAnswer } from '@slipway/contracts/responses';
import { TrafficQuerySchema } from '@slipway/contracts/requests';
import { HOUR, readTraffic } from '@slipway/records/traffic-history';
import type { ApiContext } from '../context';
import { AppError } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { query } from '../middleware/validate';

/** `GET /api/traffic?range=7d&step=1h`: requests, 5xx and latency per app, counted by the gateway. */
export function trafficRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.get('/api/traffic', requireRedis(ctx.redis), async (koa) => {
    const { range, step, app } = query(koa, TrafficQuerySchema);
    if (range > 8 * 24 * HOUR || (step === '1m' && range > 48 * HOUR)) {
      throw new AppError(400, 'bad_request', 'Traffic is kept 8 days by hour and 2 days by minute: ask for a shorter range');
    }
    const apps = app ? [app] : await ctx.store.listAppNames();
    const now = Date.now();
    koa.body = { series: await readTraffic(ctx.redis, apps, now - range, now, step === '1m' ? 'm' : 'h') } satisfies TrafficAnswer;
  });
  return router;
}
