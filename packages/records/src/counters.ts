/**
 * Monotonic counters for Prometheus (`GET /metrics`), kept in Redis so every worker adds to the same
 * ones and a restart of the API loses nothing: deploy outcomes by kind and status, and a histogram of
 * deploy durations.
 */
import type { Redis } from 'ioredis';
import type { Deploy } from '@slipway/contracts/deploy';

const OUTCOMES = 'slipway:counters:deploys';
const DURATIONS = 'slipway:counters:deploy_seconds';
export const DURATION_BUCKETS_S = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

export async function countOutcome(redis: Redis, deploy: Deploy): Promise<void> {
  const seconds = deploy.startedAt && deploy.finishedAt ? (Date.parse(deploy.finishedAt) - Date.parse(deploy.startedAt)) / 1000 : 0;
  const tx = redis.multi().hincrby(OUTCOMES, `${deploy.kind}|${deploy.status}`, 1);
  const label = `${deploy.kind}|${deploy.status}`;
  for (const bound of DURATION_BUCKETS_S) if (seconds <= bound) tx.hincrby(DURATIONS, `${label}|${bound}`, 1);
  tx.hincrby(DURATIONS, `${label}|+Inf`, 1).hincrbyfloat(DURATIONS, `${label}|sum`, seconds);
  await tx.exec();
}

export async function readCounters(redis: Redis): Promise<{ outcomes: Record<string, string>; durations: Record<string, string> }> {
  const [outcomes, durations] = await Promise.all([redis.hgetall(OUTCOMES), redis.hgetall(DURATIONS)]);
  return { outcomes, durations };
}
