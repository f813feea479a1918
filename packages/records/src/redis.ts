import { Redis, type RedisOptions } from 'ioredis';

/**
 * Three kinds of connection, because they fail differently on purpose:
 * - `command`: serves HTTP requests; no offline queue, so while Redis is down a request fails at once (503)
 *   instead of hanging until it comes back (SPEC §4).
 * - `blocking`: BullMQ workers and subscribers; retry forever, as BullMQ requires (maxRetriesPerRequest null).
 */
export type RedisRole = 'command' | 'blocking';

export function createRedis(url: string, role: RedisRole, name = 'slipway'): Redis {
  const options: RedisOptions = {
    connectionName: name,
    lazyConnect: false,
    // Reconnect quickly, but never give up: Redis restarting is an expected fault.
    retryStrategy: (times) => Math.min(200 * times, 2000),
    ...(role === 'command'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 5000 }
      : { maxRetriesPerRequest: null, enableReadyCheck: true }),
  };
  const redis = new Redis(url, options);
  // Connection errors surface through `status` and failed commands; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  return redis;
}

export async function waitReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Every key Slipway writes, in one place. */
export const keys = {
  deploy: (id: string) => `slipway:deploy:${id}`,
  deployEvents: (id: string) => `slipway:deploy:${id}:events`,
  deploys: 'slipway:deploys',
  apps: 'slipway:apps',
  app: (name: string) => `slipway:app:${name}`,
  appDeploys: (name: string) => `slipway:app:${name}:deploys`,
  appVersions: (name: string) => `slipway:app:${name}:versions`,
  /** FIFO of the app's unfinished deploy ids: only the head may run (per-app ordering). */
  appLine: (name: string) => `slipway:app:${name}:line`,
  appSettings: (name: string) => `slipway:app:${name}:settings`,
  /** The post-switch watch of the app's newest version: {deployId, until} (SLIPWAY_WATCH_S). */
  appWatch: (name: string) => `slipway:app:${name}:watch`,
  /** The app's volumes as made by the worker: {<path inside>: <volume name>} (issue 16). */
  appVolumes: (name: string) => `slipway:app:${name}:volumes`,
  /** Sizes of the installation's volumes, measured by the worker: {<volume>: JSON {bytes, measuredAt}}. */
  volumeSizes: 'slipway:volume-sizes',
  /** Custom domains: {<domain>: <app>} (issue 16). */
  domains: 'slipway:domains',
  /** Published when the domains or the HTTPS redirects change: the gateways reload them. */
  domainsChannel: 'slipway:domains:changed',
  /** Apps whose plain-HTTP requests are redirected to HTTPS (their `httpsRedirect` setting). */
  httpsRedirects: 'slipway:https-redirects',
  /** The gateway's certificates, by host name: JSON CertificateStatus (never a key or a certificate). */
  certificates: 'slipway:certificates',
  /** The internal CA's root certificate (public), as PEM, for GET /api/tls/ca.pem. */
  tlsCa: 'slipway:tls:ca',
  /** An ACME HTTP-01 challenge's key authorization, by token, while the CA validates it. */
  acmeChallenge: (token: string) => `slipway:acme:${token}`,
  /** start/stop/delete operations waiting in an app's line: {status, action, error?}. */
  op: (id: string) => `slipway:op:${id}`,
  /** Route changes for the gateways: {app, version, port} or {app, port: null}. */
  routesChannel: 'slipway:routes',
  /** gateway id → last heartbeat (ms). */
  gateways: 'slipway:gateways',
  /** Gateways that drained a switched-away upstream: a list per switch, popped by the waiting worker. */
  drained: (nonce: string) => `slipway:drained:${nonce}`,
  /** Traffic counted by the gateways, per app and minute or hour bucket. */
  traffic: (app: string, step: 'm' | 'h', bucket: number) => `slipway:traffic:${app}:${step}:${bucket}`,
  notificationsChannel: 'slipway:notifications',
  /** worker id → JSON {ts, docker}: the workers' heartbeats (the API has no Docker access of its own). */
  workers: 'slipway:workers',
  /** Under Swarm: JSON list of the nodes with their state, as the worker last saw them (GET /api/system). */
  swarmNodes: 'slipway:swarm:nodes',
  eventsChannel: 'slipway:events',
} as const;
