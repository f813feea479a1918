/** Counts requests per app and minute in memory and adds them to Redis every few seconds. */
import type { Redis } from 'ioredis';
import { addTraffic, bucketIndex, emptyCount, MINUTE, type TrafficCount } from '@slipway/records/traffic-history';

const FLUSH_MS = 5_000;

export class TrafficCounter {
  private counts = new Map<string, TrafficCount>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly redis: Redis) {}

  record(app: string, status: number, ms: number): void {
    const key = `${app}\n${Math.floor(Date.now() / MINUTE) * MINUTE}`;
    let count = this.counts.get(key);
    if (!count) this.counts.set(key, (count = emptyCount()));
    count.requests++;
    if (status >= 500) count.errors5xx++;
    count.histogram[bucketIndex(ms)]!++;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    const batch = this.counts;
    this.counts = new Map();
    for (const [key, count] of batch) {
      const [app, minute] = key.split('\n') as [string, string];
      // Counts that cannot be written now (Redis down) are lost rather than piling up in memory.
      await addTraffic(this.redis, app, Number(minute), count).catch(() => {});
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
