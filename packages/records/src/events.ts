/**
 * Deploy events: kept per deploy in a Redis stream (so `/events` can replay from the start) and
 * published on one channel (so the API fans out to SSE clients without a Redis connection per client).
 */
import type { Redis } from 'ioredis';
import { DeployEventSchema, type DeployEvent } from '@slipway/contracts/deploy';
import { keys } from './redis';

/** Cap per deploy: a build that prints more keeps its newest lines. */
const MAX_EVENTS = 20_000;
/** Event streams of finished deploys are kept this long. */
const EVENTS_TTL_S = 30 * 24 * 3600;

export interface StoredEvent {
  id: string;
  deployId: string;
  event: DeployEvent;
}

export async function appendEvents(redis: Redis, deployId: string, events: DeployEvent[]): Promise<void> {
  if (!events.length) return;
  const key = keys.deployEvents(deployId);
  const pipe = redis.pipeline();
  for (const event of events) pipe.xadd(key, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(event));
  pipe.expire(key, EVENTS_TTL_S);
  const results = (await pipe.exec()) ?? [];
  const publish = redis.pipeline();
  events.forEach((event, i) => {
    const [err, id] = results[i] ?? [];
    if (err || typeof id !== 'string') return;
    const message: StoredEvent = { id, deployId, event };
    publish.publish(keys.eventsChannel, JSON.stringify(message));
  });
  await publish.exec();
}

export async function readEvents(redis: Redis, deployId: string): Promise<StoredEvent[]> {
  const entries = await redis.xrange(keys.deployEvents(deployId), '-', '+');
  return entries.map(([id, fields]) => ({ id, deployId, event: DeployEventSchema.parse(JSON.parse(fields[1] ?? 'null')) }));
}

export function parseEventMessage(message: string): StoredEvent | null {
  try {
    const raw = JSON.parse(message) as { id?: unknown; deployId?: unknown; event?: unknown };
    if (typeof raw.id !== 'string' || typeof raw.deployId !== 'string') return null;
    return { id: raw.id, deployId: raw.deployId, event: DeployEventSchema.parse(raw.event) };
  } catch {
    return null;
  }
}

/** Redis stream ids compare as `<ms>-<seq>`. */
export function streamIdAfter(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}
