/**
 * The gateway process: the stable entry to every app, `http://<app>.<SLIPWAY_DOMAIN>:<SLIPWAY_GATEWAY_PORT>/`.
 * It needs Redis only (routes and traffic), never Docker.
 */
import { hostname } from 'node:os';
import { loadServiceSettings, settingsOrExit } from '@slipway/core/config';
import { createLogger } from '@slipway/core/logger';
import { createRedis, keys, waitReady } from '@slipway/core/redis';
import { acknowledgeDrained } from '@slipway/core/routes';
import { Gateway } from './proxy';
import { RouteTable } from './routes';
import { TrafficCounter } from './traffic';

const settings = settingsOrExit(() => loadServiceSettings('gateway'));
const { redisUrl } = settings;
const log = await createLogger('gateway', settings.logLevel, settings.dataDir);
const id = `${hostname()}:${process.pid}`;

const redis = createRedis(redisUrl, 'blocking', 'slipway-gateway');
const subscriber = createRedis(redisUrl, 'blocking', 'slipway-gateway-sub');
await waitReady(redis, 30_000);

const routes = new RouteTable(redis);
await routes.reload();
const traffic = new TrafficCounter(redis);
traffic.start();
const upstreamHost = settings.bind === '0.0.0.0' ? '127.0.0.1' : settings.bind;
const gateway = new Gateway(routes, traffic, { domain: settings.domain, upstreamHost, trustedProxies: settings.trustedProxies });

/** Longest a switch waits for requests still running on the old container. */
const DRAIN_TIMEOUT_MS = Math.max(1000, settings.stopGraceS * 1000);
await routes.follow(subscriber, (update) => {
  log.debug({ app: update.app, version: update.version, port: update.port }, 'route changed');
  const drained = update.previousPort && update.previousPort !== update.port ? gateway.drained(update.previousPort, DRAIN_TIMEOUT_MS) : Promise.resolve();
  void drained.then(() => acknowledgeDrained(redis, update.nonce, id)).catch(() => {});
});
const beat = async () => {
  await redis.hset(keys.gateways, id, String(Date.now())).catch(() => 0);
};
await beat();
const beating = setInterval(() => void beat(), 5_000);
const reloading = setInterval(() => void routes.reload().catch(() => {}), 30_000);

gateway.server.listen(settings.gatewayPort, settings.gatewayHost, () => {
  log.info({ url: `http://<app>.${settings.domain}:${settings.gatewayPort}/`, listen: `${settings.gatewayHost}:${settings.gatewayPort}` }, 'gateway listening');
  process.send?.({ type: 'ready', service: 'gateway' });
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'gateway stopping');
  clearInterval(beating);
  clearInterval(reloading);
  gateway.server.close();
  gateway.server.closeIdleConnections();
  await gateway.close();
  await traffic.stop();
  await redis.hdel(keys.gateways, id).catch(() => 0);
  await Promise.allSettled([redis.quit(), subscriber.quit()]);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
