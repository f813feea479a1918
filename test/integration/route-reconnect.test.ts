/**
 * The gateway's route table (services/gateway/src/route-table.ts) against a real Redis: a route changed
 * while its subscriber was reconnecting is learned as soon as the subscriber is back, not at the next 30 s
 * reload. CI once caught the gateway serving a stopped container for a moment after Redis came back
 * (test/faults/redis.test.ts: three 502s), because the switch was announced before it had resubscribed.
 */
import { Redis } from 'ioredis';
import type { StartedRedisContainer } from '@testcontainers/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedis, keys } from '@slipway/records/redis';
import { RouteTable } from '../../services/gateway/src/route-table';
import { startRedis } from '../helpers/slipway';

let container: StartedRedisContainer;
let admin: Redis;
let connections: Redis[] = [];

beforeAll(async () => {
  container = await startRedis();
  admin = new Redis(container.getConnectionUrl());
});

afterAll(async () => {
  for (const c of connections) c.disconnect();
  await admin?.quit();
  await container?.stop();
});

it('reads the routes again once its subscriber is back, so a switch announced meanwhile is not missed', async () => {
  await admin.sadd(keys.apps, 'demo');
  await admin.hset(keys.app('demo'), { current: '1.0.0', port: '41001', status: 'running' });
  const url = container.getConnectionUrl();
  const [commands, subscriber] = [createRedis(url, 'blocking', 'test-routes'), createRedis(url, 'blocking', 'test-routes-sub')];
  connections = [commands, subscriber];
  const table = new RouteTable(commands);
  await table.reload();
  await table.follow(subscriber, () => {});
  expect(table.get('demo')?.version).toBe('1.0.0');

  // The subscriber's connection drops; the switch to 2.0.0 is written while it is away (its announcement,
  // published now, reaches no one).
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await admin.hset(keys.app('demo'), { current: '2.0.0', port: '41002' });
  await admin.publish(keys.routesChannel, JSON.stringify({ app: 'demo', version: '2.0.0', port: 41002 }));

  // Well before the 30 s full reload.
  await expect.poll(() => table.get('demo')?.version, { timeout: 5_000, interval: 100 }).toBe('2.0.0');
  expect(table.get('demo')?.upstreams.map((u) => u.port)).toEqual([41002]);
});
