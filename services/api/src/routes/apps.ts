import Router from '@koa/router';
import { isAppName } from '@slipway/contracts/names';
import { appDetail, listApps } from '../apps';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { requireRedis } from '../middleware/redis-guard';

export function appRoutes(ctx: ApiContext): Router {
  const router = new Router({ prefix: '/api/apps' });
  router.use(requireRedis(ctx.redis));

  router.get('/', async (koa) => {
    koa.body = { apps: await listApps(ctx) };
  });

  router.get('/:name', async (koa) => {
    const name = koa.params.name ?? '';
    if (!isAppName(name) || !(await ctx.store.appExists(name))) {
      throw notFound('app_not_found', `No app named "${name.slice(0, 63)}"`);
    }
    koa.body = { app: await appDetail(ctx, name) };
  });

  return router;
}
