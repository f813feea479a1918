import type Router from '@koa/router';
import { apiRouter } from './router';
import type { ApiContext } from '../context';

/** `GET /api/events`: every deploy and app state change, live (SPEC §4: the panel's notifications). */
export function eventRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.get('/api/events', async (koa) => {
    const sse = ctx.sse.open(koa);
    sse.onClose(ctx.hub.onNotification((n) => sse.send(n.type, n)));
  });
  return router;
}
