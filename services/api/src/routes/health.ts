import type Router from '@koa/router';
import { apiRouter } from './router';
import type { HealthAnswer } from '@slipway/contracts/responses';
import { keys } from '@slipway/records/redis';
import { liveGateways } from '@slipway/records/route-announcements';
import type { ApiContext } from '../context';

/** A worker's report older than this is treated as gone. */
const HEARTBEAT_FRESH_MS = 15_000;

/**
 * No auth (SPEC §4). The API never talks to Docker itself (only the worker holds the socket), so the
 * engine's state comes from the workers' heartbeats in Redis.
 */
export function healthRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.get('/healthz', async (koa) => {
    const redis = ctx.redis.status === 'ready' && (await ping(ctx));
    let workers = 0;
    let docker = false;
    if (redis) {
      const reports = await ctx.redis.hgetall(keys.workers).catch(() => ({}) as Record<string, string>);
      for (const raw of Object.values(reports)) {
        const report = JSON.parse(raw) as { ts: number; docker: boolean };
        if (Date.now() - report.ts > HEARTBEAT_FRESH_MS) continue;
        workers++;
        docker ||= report.docker;
      }
    }
    const gateways = redis ? (await liveGateways(ctx.redis).catch(() => [])).length : 0;
    const ok = redis && docker;
    koa.status = ok ? 200 : 503;
    koa.body = { ok, redis, docker, workers, gateways } satisfies HealthAnswer;
  });
  return router;
}

async function ping(ctx: ApiContext): Promise<boolean> {
  try {
    return (await ctx.redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
