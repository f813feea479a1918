/**
 * The metrics history's storage (packages/records/src/metrics.ts) against a real Redis: a bucket holds the
 * sum and count of its samples (gauges read back as means, counters as sums), both buckets expire, and
 * the latest sample carries its extra fields.
 */
import { Redis } from 'ioredis';
import type { StartedRedisContainer } from '@testcontainers/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { APP_FIELDS, METRICS_TTL_S, readLatest, readSeries, recordSample } from '@slipway/records/metrics';
import { startRedis } from '../helpers/slipway';

let container: StartedRedisContainer;
let redis: Redis;

beforeAll(async () => {
  container = await startRedis();
  redis = new Redis(container.getConnectionUrl());
});

afterAll(async () => {
  await redis?.quit();
  await container?.stop();
});

it('adds samples into minute and hour buckets, reads means and sums, keeps the latest with its extras', async () => {
  const hour = Date.UTC(2026, 10, 30, 5);
  const at = hour + 90_000; // 05:01:30, in the 05:01 minute and the 05:00 hour
  const sample = { cpuPercent: 10, memoryBytes: 1000, memoryLimitBytes: 4000, pids: 3, netRxBytes: 50, netTxBytes: 5, blockReadBytes: 0, blockWriteBytes: 7 };
  await recordSample(redis, 'app:m1', at, sample, APP_FIELDS);
  await recordSample(redis, 'app:m1', at + 10_000, { ...sample, cpuPercent: 30, memoryBytes: 3000, netRxBytes: 150, pids: Number.NaN }, APP_FIELDS, { netRxTotalBytes: 900 });

  const minutes = await readSeries(redis, 'app:m1', hour, hour + 3_600_000, 'm', APP_FIELDS);
  expect(minutes).toEqual([
    { ts: '2026-11-30T05:01:00.000Z', cpuPercent: 20, memoryBytes: 2000, memoryLimitBytes: 4000, pids: 1.5, netRxBytes: 200, netTxBytes: 10, blockReadBytes: 0, blockWriteBytes: 14 },
  ]);
  const hours = await readSeries(redis, 'app:m1', hour, hour + 3_600_000, 'h', APP_FIELDS);
  expect(hours.map((p) => [p.ts, p.cpuPercent, p.netRxBytes])).toEqual([['2026-11-30T05:00:00.000Z', 20, 200]]);

  // A non-finite value is left out of the sum, while the count still grows.
  expect(await redis.hget(`slipway:metrics:app:m1:m:${hour + 60_000}`, 'n')).toBe('2');
  for (const k of [`slipway:metrics:app:m1:m:${hour + 60_000}`, `slipway:metrics:app:m1:h:${hour}`, 'slipway:metrics:app:m1:latest']) {
    const ttl = await redis.ttl(k);
    expect(ttl).toBeGreaterThan(METRICS_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(METRICS_TTL_S);
  }
  expect(await readLatest(redis, 'app:m1')).toEqual({ ts: new Date(at + 10_000).toISOString(), ...sample, cpuPercent: 30, memoryBytes: 3000, netRxBytes: 150, pids: null, netRxTotalBytes: 900 });
});
