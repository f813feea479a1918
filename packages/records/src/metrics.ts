/**
 * Machine and container history (SPEC §4 `/api/system/metrics`, issue 5): every sample is added into a
 * minute and an hour bucket (sums and a count), so a bucket's value is the mean of its samples, and
 * buckets from several workers add up. Byte counters (network, block I/O) are stored as the bytes moved
 * during the bucket. Kept 7 days.
 */
import type { Redis } from 'ioredis';
import { HOUR, MINUTE } from './traffic-history';

export const METRICS_TTL_S = 8 * 24 * 3600;

/** Gauges are averaged over a bucket; counters (bytes moved) are summed. */
export const HOST_FIELDS = {
  gauges: ['cpuPercent', 'load1', 'memUsedBytes', 'memTotalBytes', 'diskUsedBytes', 'diskTotalBytes'],
  counters: ['netRxBytes', 'netTxBytes'],
} as const;

export const APP_FIELDS = {
  gauges: ['cpuPercent', 'memoryBytes', 'memoryLimitBytes', 'pids'],
  counters: ['netRxBytes', 'netTxBytes', 'blockReadBytes', 'blockWriteBytes'],
} as const;

type Fields = { gauges: readonly string[]; counters: readonly string[] };
export type Sample = Record<string, number>;

const key = (series: string, step: 'm' | 'h', bucket: number) => `slipway:metrics:${series}:${step}:${bucket}`;
export const latestKey = (series: string) => `slipway:metrics:${series}:latest`;

/**
 * One Lua call per sample: both buckets' fields, their counts and expiries, and the latest sample. As a
 * MULTI it was ~21 commands per series every SLIPWAY_SAMPLE_S, the largest share of Slipway's idle CPU.
 * KEYS: minute bucket, hour bucket, latest. ARGV: ttl, latest JSON, then field/value pairs.
 */
const RECORD_SAMPLE = `
for b = 1, 2 do
  for i = 3, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[b], ARGV[i], ARGV[i + 1]) end
  redis.call('HINCRBY', KEYS[b], 'n', 1)
  redis.call('EXPIRE', KEYS[b], ARGV[1])
end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[1])
`;

type WithRecord = Redis & { slipwayRecordSample(...args: Array<string | number>): Promise<unknown> };
const defined = new WeakSet<Redis>();

/** `extra` goes with the latest sample only (e.g. byte counters since the container started). */
export async function recordSample(redis: Redis, series: string, at: number, sample: Sample, fields: Fields, extra: Sample = {}): Promise<void> {
  // defineCommand caches the script by SHA (EVALSHA, EVAL once when Redis does not know it yet).
  if (!defined.has(redis)) {
    redis.defineCommand('slipwayRecordSample', { numberOfKeys: 3, lua: RECORD_SAMPLE });
    defined.add(redis);
  }
  const pairs: Array<string | number> = [];
  for (const f of [...fields.gauges, ...fields.counters]) {
    const v = sample[f];
    if (typeof v === 'number' && Number.isFinite(v)) pairs.push(f, v);
  }
  const latest = JSON.stringify({ ts: new Date(at).toISOString(), ...sample, ...extra });
  await (redis as WithRecord).slipwayRecordSample(
    key(series, 'm', Math.floor(at / MINUTE) * MINUTE),
    key(series, 'h', Math.floor(at / HOUR) * HOUR),
    latestKey(series),
    METRICS_TTL_S,
    latest,
    ...pairs,
  );
}

export type Point = { ts: string; [field: string]: number | string };

/** One point per bucket in [from, to) that has samples: gauges as means, counters as sums. */
export async function readSeries(redis: Redis, series: string, from: number, to: number, step: 'm' | 'h', fields: Fields): Promise<Point[]> {
  const size = step === 'm' ? MINUTE : HOUR;
  const starts: number[] = [];
  for (let t = Math.floor(from / size) * size; t < to; t += size) starts.push(t);
  const pipe = redis.pipeline();
  for (const t of starts) pipe.hgetall(key(series, step, t));
  const results = (await pipe.exec()) ?? [];
  const points: Point[] = [];
  starts.forEach((t, i) => {
    const hash = (results[i]?.[1] ?? {}) as Record<string, string>;
    const n = Number(hash.n ?? 0);
    if (!n) return;
    const point: Point = { ts: new Date(t).toISOString() };
    for (const f of fields.gauges) point[f] = round(Number(hash[f] ?? 0) / n);
    for (const f of fields.counters) point[f] = Math.round(Number(hash[f] ?? 0));
    points.push(point);
  });
  return points;
}

export async function readLatest(redis: Redis, series: string): Promise<Point | null> {
  const raw = await redis.get(latestKey(series));
  return raw ? (JSON.parse(raw) as Point) : null;
}

const round = (v: number) => Math.round(v * 100) / 100;
