/** Tells the API (which has no Docker access) that this worker lives and whether the engine answers. */
import { hostname } from 'node:os';
import { keys } from '@slipway/core/redis';
import type { WorkerContext } from './context';

const EVERY_MS = 5_000;

export function startHeartbeat(ctx: WorkerContext): { id: string; stop: () => Promise<void> } {
  const id = `${hostname()}:${process.pid}`;
  let docker = true;
  const beat = async () => {
    docker = await ctx.engine.ping();
    await ctx.redis.hset(keys.workers, id, JSON.stringify({ ts: Date.now(), docker })).catch(() => {});
  };
  void beat();
  const timer = setInterval(() => void beat(), EVERY_MS);
  return {
    id,
    async stop() {
      clearInterval(timer);
      await ctx.redis.hdel(keys.workers, id).catch(() => {});
    },
  };
}
