/** The API: HTTP in, records and jobs out. It never talks to Docker (only the worker does). */
import { mkdir } from 'node:fs/promises';
import { dataPaths, type Settings } from '@slipway/runtime/config';
import { createLogger } from '@slipway/runtime/logger';
import { createDeployQueue } from '@slipway/records/queue';
import { createRedis, waitReady } from '@slipway/records/redis';
import { announceReady, type Service } from '@slipway/runtime/service';
import { Store } from '@slipway/records/store';
import { createApp } from './app';
import { Accounts } from './auth/accounts';
import { bootstrapAdmin, printToken } from './auth/bootstrap';
import { EventHub } from './event-hub';
import { createApiServer } from './http-server';
import { SseHub } from './sse';

export async function startApi(settings: Readonly<Settings> & { redisUrl: string }): Promise<Service> {
  const { redisUrl } = settings;
  const log = await createLogger('api', settings.logLevel, settings.dataDir);

  await mkdir(dataPaths(settings.dataDir).uploads, { recursive: true });
  const redis = createRedis(redisUrl, 'command', 'slipway-api');
  const subscriber = createRedis(redisUrl, 'blocking', 'slipway-api-sub');
  const queueConnection = createRedis(redisUrl, 'command', 'slipway-api-queue');
  const queue = createDeployQueue(queueConnection);
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue connection error'));
  const hub = new EventHub(subscriber);
  await hub.start();

  const accounts = new Accounts(redis, settings.adminToken);
  await waitReady(redis, 30_000);
  const { printed } = await bootstrapAdmin(redis, accounts, settings.adminToken);
  if (printed) printToken(printed);
  const sse = new SseHub({ total: settings.sseMaxTotal, perClient: settings.sseMaxPerClient, heartbeatMs: 15_000 });
  const app = createApp({ settings, redis, store: new Store(redis), queue, hub, sse, accounts, log });
  // The server has already replaced X-Forwarded-* with what it believes (./http-server): Koa may read them.
  app.proxy = true;
  // An address's connections: room for its event streams (capped per client by the SSE hub) and then some.
  const server = createApiServer(app.callback(), { trustedProxies: settings.trustedProxies, perAddress: Math.max(256, settings.sseMaxPerClient + 56) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ url: `http://${settings.host}:${settings.port}` }, 'api listening');
  announceReady('api');

  return {
    name: 'api',
    async stop() {
      log.info('api stopping');
      server.close();
      server.closeAllConnections();
      await Promise.allSettled([queue.close(), redis.quit(), subscriber.quit(), queueConnection.quit()]);
    },
  };
}
