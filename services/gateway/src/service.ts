/**
 * The gateway: the stable entry to every app, `http://<app>.<SLIPWAY_DOMAIN>:<SLIPWAY_GATEWAY_PORT>/`, and
 * with SLIPWAY_TLS on, `https://…:<SLIPWAY_HTTPS_PORT>/` too. It needs Redis only (routes and traffic),
 * never Docker.
 */
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import type { Settings } from '@slipway/runtime/config';
import { createLogger } from '@slipway/runtime/logger';
import { createRedis, keys, waitReady } from '@slipway/records/redis';
import { acknowledgeDrained } from '@slipway/records/route-announcements';
import { readChallenge } from '@slipway/records/tls';
import { announceReady, type Service } from '@slipway/runtime/service';
import { Gateway } from './proxy';
import { RouteTable } from './route-table';
import { TrafficCounter } from './traffic-meter';
import { openCertificates } from './tls/issuers';

export async function startGateway(settings: Readonly<Settings> & { redisUrl: string }): Promise<Service> {
  const { redisUrl } = settings;
  const log = await createLogger('gateway', settings.logLevel, settings.dataDir);
  const id = `${hostname()}:${process.pid}`;

  const redis = createRedis(redisUrl, 'blocking', 'slipway-gateway');
  const subscriber = createRedis(redisUrl, 'blocking', 'slipway-gateway-sub');
  await waitReady(redis, 30_000);

  const routes = new RouteTable(redis);
  const certificates = settings.tls === 'off' ? null : await openCertificates(settings, redis, log);
  if (certificates) routes.onChange(() => certificates.want(routes.hostNames(settings.domain)));
  await routes.reload();
  await certificates?.forgetOthers();
  const traffic = new TrafficCounter(redis);
  traffic.start();
  const upstreamHost = settings.bind === '0.0.0.0' ? '127.0.0.1' : settings.bind;
  const tls = settings.tls === 'off' ? undefined : { httpsPort: settings.httpsPort, ...(settings.tls === 'acme' ? { challenge: (token: string) => readChallenge(redis, token) } : {}) };
  const gateway = new Gateway(routes, traffic, { domain: settings.domain, upstreamHost, trustedProxies: settings.trustedProxies, tls });
  const secure = certificates ? createHttpsServer({ SNICallback: certificates.sni, minVersion: 'TLSv1.2' }) : null;
  if (secure) gateway.serve(secure);

  /** Longest a switch waits for requests still running on the old container. */
  const drainTimeoutMs = Math.max(1000, settings.stopGraceS * 1000);
  await routes.follow(subscriber, (update) => {
    log.debug({ app: update.app, version: update.version, port: update.port }, 'route changed');
    // Every upstream the app left, but not one it still uses (an unchanged swarm port, a kept instance).
    const kept = new Set([update.port, ...(update.upstreams ?? []).map((u) => u.port)]);
    const left = [...new Set(update.previousPorts ?? [update.previousPort])].filter((p): p is number => p !== null && !kept.has(p));
    const drained = Promise.all(left.map((port) => gateway.drained(port, drainTimeoutMs)));
    // Without the acknowledgement the worker waits out its drain timeout before it stops the old container.
    void drained.then(() => acknowledgeDrained(redis, update.nonce, id)).catch((err: Error) => log.warn({ app: update.app, err: err.message }, 'could not acknowledge a drain'));
  });
  const beat = async () => {
    await redis.hset(keys.gateways, id, String(Date.now())).catch(() => 0);
  };
  await beat();
  const beating = setInterval(() => void beat(), 5_000);
  const reloading = setInterval(() => void routes.reload().catch((err: Error) => log.warn({ err: err.message }, 'could not reload routes; serving the last known ones')), 30_000);

  await listen(gateway.server, settings.gatewayPort, settings.gatewayHost);
  log.info({ url: `http://<app>.${settings.domain}:${settings.gatewayPort}/`, listen: `${settings.gatewayHost}:${settings.gatewayPort}` }, 'gateway listening');
  if (secure) {
    await listen(secure, settings.httpsPort, settings.gatewayHost);
    log.info({ url: `https://<app>.${settings.domain}:${settings.httpsPort}/`, tls: settings.tls }, 'gateway listening for HTTPS');
  }
  announceReady('gateway');

  return {
    name: 'gateway',
    async stop() {
      log.info('gateway stopping');
      clearInterval(beating);
      clearInterval(reloading);
      certificates?.close();
      for (const server of [gateway.server, secure]) {
        server?.close();
        server?.closeIdleConnections();
      }
      await gateway.close();
      await traffic.stop();
      await redis.hdel(keys.gateways, id).catch(() => 0);
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
