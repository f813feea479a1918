import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type { ApiContext } from './context';
import { AppError } from './errors';
import { errorHandler } from './middleware/error-handler';
import { appRoutes } from './routes/apps';
import { deployRoutes } from './routes/deploys';
import { eventRoutes } from './routes/events';
import { logRoutes } from './routes/logs';
import { metricsRoutes } from './routes/metrics';
import { healthRoutes } from './routes/health';
import { queueRoutes } from './routes/queue';
import { systemRoutes } from './routes/system';
import { trafficRoutes } from './routes/traffic';
import { uiRoutes } from './routes/ui';

export function createApp(ctx: ApiContext): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are answered and logged by errorHandler
  app.use(errorHandler(ctx.log));
  // JSON bodies only (uploads are multipart, read by their own route), small and strict.
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: '256kb',
      jsonStrict: true,
      encoding: 'utf-8',
      onError: (err) => {
        const status = (err as { status?: number }).status;
        if (status === 413) throw new AppError(413, 'payload_too_large', 'The JSON body is larger than 256 KiB');
        throw new AppError(400, 'bad_request', `The body is not valid JSON: ${err.message}`);
      },
    }),
  );
  const routers = [
    healthRoutes(ctx),
    metricsRoutes(ctx),
    deployRoutes(ctx),
    logRoutes(ctx),
    appRoutes(ctx),
    queueRoutes(ctx),
    eventRoutes(ctx),
    trafficRoutes(ctx),
    systemRoutes(ctx),
  ];
  for (const router of routers) {
    app.use(router.routes()).use(router.allowedMethods({ throw: false }));
  }
  app.use(uiRoutes());
  return app;
}
