/**
 * HTTPS as the API sees it (issue 16): the internal CA's root, to trust, and each app's certificates as the
 * gateway reports them through Redis. The API holds no key and no certificate of its own.
 */
import type Router from '@koa/router';
import type { CertificateStatus } from '@slipway/contracts/tls';
import { acmeCanIssue } from '@slipway/contracts/tls';
import type { CertificatesAnswer } from '@slipway/contracts/responses';
import { readCa, readCertificates } from '@slipway/records/tls';
import { existingApp } from '../apps';
import type { ApiContext } from '../context';
import { AppError, notFound } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { apiRouter } from './router';

export function tlsRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));
  const { tls, domain, httpsPort } = ctx.settings;

  router.get('/api/tls/ca.pem', async (koa) => {
    if (tls !== 'internal') throw notFound('tls_not_internal', `SLIPWAY_TLS is ${tls}: there is no internal CA (SLIPWAY_TLS=internal makes one)`);
    const pem = await readCa(ctx.redis);
    if (!pem) throw new AppError(503, 'not_ready', 'The gateway has not made its CA yet; try again in a moment');
    koa.set('Content-Disposition', 'attachment; filename="slipway-ca.pem"');
    koa.type = 'application/x-pem-file';
    koa.body = pem;
  });

  router.get('/api/apps/:name/certificates', async (koa) => {
    const app = await existingApp(ctx, koa.params.name);
    const settings = await ctx.store.getSettings(app);
    const names = tls === 'off' ? [] : [`${app}.${domain.toLowerCase()}`, ...settings.domains].filter((n) => tls === 'internal' || acmeCanIssue(n));
    const statuses = await readCertificates(ctx.redis, names);
    const certificates = names.map(
      (name, i): CertificateStatus =>
        statuses[i] ?? { name, state: 'pending', issuer: tls === 'acme' ? 'acme' : 'internal', notBefore: null, notAfter: null, renewAt: null, updatedAt: new Date().toISOString() },
    );
    koa.body = { tls, httpsPort: tls === 'off' ? null : httpsPort, certificates } satisfies CertificatesAnswer;
  });

  return router;
}
