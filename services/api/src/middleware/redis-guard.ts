import type { Middleware } from 'koa';
import type { Redis } from 'ioredis';
import { redisUnavailable } from '../errors';

/** Routes that need Redis answer 503 at once while it is down, instead of hanging (SPEC §4). */
export function requireRedis(redis: Redis): Middleware {
  return async (_ctx, next) => {
    if (redis.status !== 'ready') throw redisUnavailable();
    await next();
  };
}
