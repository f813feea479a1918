import Koa from 'koa';
import type { ApiContext } from './context';
import { errorHandler } from './middleware/error-handler';
import { appRoutes } from './routes/apps';
import { deployRoutes } from './routes/deploys';
import { healthRoutes } from './routes/health';
import { queueRoutes } from './routes/queue';
import { uiRoutes } from './routes/ui';

export function createApp(ctx: ApiContext): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are answered and logged by errorHandler
  app.use(errorHandler(ctx.log));
  for (const router of [healthRoutes(ctx), deployRoutes(ctx), appRoutes(ctx), queueRoutes(ctx)]) {
    app.use(router.routes()).use(router.allowedMethods({ throw: false }));
  }
  app.use(uiRoutes());
  return app;
}
