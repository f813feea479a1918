import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import Koa from 'koa';
import type { ApiContext } from './context';
import { appendAudit } from './audit';
import type { Principal } from './auth/accounts';
import { AppError } from './errors';
import { authenticate } from './middleware/auth';
import { isApiSpace } from './middleware/canonical-path';
import { securityHeaders } from './middleware/security-headers';
import { authRoutes } from './routes/auth';
import { errorHandler } from './middleware/error-handler';
import { volumeRoutes } from './routes/volumes';
import { tlsRoutes } from './routes/tls';
import { appRoutes } from './routes/apps';
import { deployRoutes } from './routes/deploys';
import { eventRoutes } from './routes/events';
import { logRoutes } from './routes/logs';
import { metricsRoutes } from './routes/metrics';
import { openApiRoutes } from './routes/openapi';
import { healthRoutes } from './routes/health';
import { queueRoutes } from './routes/queue';
import { systemRoutes } from './routes/system';
import { trafficRoutes } from './routes/traffic';
import { inlineScriptHashes, uiRoutes } from './routes/ui';

export function createApp(ctx: ApiContext): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are answered and logged by errorHandler
  app.use(errorHandler(ctx.log));
  app.use(securityHeaders(inlineScriptHashes()));
  app.use(authenticate(ctx.accounts, (principal) => void noteTokenUse(ctx, principal)));
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
  const routers = apiRouters(ctx);
  for (const router of routers) {
    app.use(router.routes()).use(router.allowedMethods({ throw: false }));
  }
  // An API path no router took (another spelling of a route, or no route at all) is a 404, never the panel's page.
  app.use(async (koa, next) => {
    if (isApiSpace(koa.state.canonicalPath as string) && koa.body === undefined && koa.status === 404) throw new AppError(404, 'not_found', `No route for ${koa.method} ${koa.path}`);
    return next();
  });
  app.use(uiRoutes());
  return app;
}

/** Every router of the API, in the order they are tried (the security suite walks their route table). */
export function apiRouters(ctx: ApiContext): Router[] {
  return [
    healthRoutes(ctx),
    authRoutes(ctx),
    metricsRoutes(ctx),
    deployRoutes(ctx),
    logRoutes(ctx),
    appRoutes(ctx),
    volumeRoutes(ctx),
    tlsRoutes(ctx),
    queueRoutes(ctx),
    eventRoutes(ctx),
    trafficRoutes(ctx),
    systemRoutes(ctx),
    openApiRoutes(),
  ];
}

/** Token use goes to the audit log at most once an hour per token (every request would drown it). */
const lastTouched = new Map<string, number>();
async function noteTokenUse(ctx: ApiContext, principal: Principal): Promise<void> {
  // `lastUsedAt` has minute resolution: most requests need no Redis round trip for it at all.
  if (Date.now() - (lastTouched.get(principal.ref) ?? 0) < 60_000) return;
  lastTouched.set(principal.ref, Date.now());
  if (!(await ctx.accounts.touchToken(principal.ref).catch(() => false))) return;
  await appendAudit(ctx, { ts: new Date().toISOString(), actor: principal.user, via: `token:${principal.ref}`, ip: '', action: 'token.use', target: principal.ref, outcome: 'ok' });
}
