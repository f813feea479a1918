/**
 * Traffic counted by the gateways (SPEC §4 `/api/traffic`): per app, per minute and per hour, requests,
 * 5xx answers and a latency histogram, from which p50/p95 are read. Histograms add up across gateways
 * and buckets, which percentiles would not.
 */
import type { Redis } from 'ioredis';
import { keys } from './redis';

/** Upper bounds (ms) of the latency buckets; the last bucket is everything slower. */
export const LATENCY_BOUNDS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000];

export const REQUEST_TOTALS = 'slipway:counters:requests';
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
/** Minute buckets are kept two days, hour buckets eight. */
export const TTL_S = { m: 2 * 24 * 3600, h: 8 * 24 * 3600 } as const;

export function bucketIndex(ms: number): number {
  const i = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
}

/** The bound of the bucket where the cumulative count reaches `q` (0..1); 0 without data. */
export function percentile(histogram: number[], q: number): number {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (!total) return 0;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= q * total) return LATENCY_BOUNDS_MS[i] ?? LATENCY_BOUNDS_MS.at(-1)! * 2;
  }
  return LATENCY_BOUNDS_MS.at(-1)! * 2;
}

export interface TrafficCount {
  requests: number;
  errors5xx: number;
  histogram: number[];
}

export function emptyCount(): TrafficCount {
  return { requests: 0, errors5xx: 0, histogram: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0) };
}

/** Adds one gateway's counts for one minute into the minute and hour buckets. */
export async function addTraffic(redis: Redis, app: string, minuteStart: number, count: TrafficCount): Promise<void> {
  const tx = redis.multi();
  for (const [step, size] of [['m', MINUTE], ['h', HOUR]] as const) {
    const key = keys.traffic(app, step, Math.floor(minuteStart / size) * size);
    tx.hincrby(key, 'requests', count.requests).hincrby(key, 'errors5xx', count.errors5xx);
    count.histogram.forEach((n, i) => n && tx.hincrby(key, `h${i}`, n));
    tx.expire(key, TTL_S[step]);
  }
  // Running totals for Prometheus, which wants counters rather than buckets.
  tx.hincrby(REQUEST_TOTALS, `${app}|requests`, count.requests).hincrby(REQUEST_TOTALS, `${app}|errors5xx`, count.errors5xx);
  await tx.exec();
}

export interface TrafficPoint {
  ts: string;
  app: string;
  requests: number;
  errors5xx: number;
  p50Ms: number;
  p95Ms: number;
}

/** One point per app and bucket in [from, to), only for buckets that saw traffic. */
export async function readTraffic(redis: Redis, apps: string[], from: number, to: number, step: 'm' | 'h'): Promise<TrafficPoint[]> {
  const size = step === 'm' ? MINUTE : HOUR;
  const starts: number[] = [];
  for (let t = Math.floor(from / size) * size; t < to; t += size) starts.push(t);
  const pipe = redis.pipeline();
  for (const app of apps) for (const t of starts) pipe.hgetall(keys.traffic(app, step, t));
  const results = (await pipe.exec()) ?? [];
  const points: TrafficPoint[] = [];
  let i = 0;
  for (const app of apps) {
    for (const t of starts) {
      const hash = (results[i++]?.[1] ?? {}) as Record<string, string>;
      const requests = Number(hash.requests ?? 0);
      if (!requests) continue;
      const histogram = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, b) => Number(hash[`h${b}`] ?? 0));
      points.push({
        ts: new Date(t).toISOString(),
        app,
        requests,
        errors5xx: Number(hash.errors5xx ?? 0),
        p50Ms: percentile(histogram, 0.5),
        p95Ms: percentile(histogram, 0.95),
      });
    }
  }
  return points.sort((a, b) => a.ts.localeCompare(b.ts) || a.app.localeCompare(b.app));
}
