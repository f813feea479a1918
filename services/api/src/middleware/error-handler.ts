import type { Middleware } from 'koa';
import type { Logger } from '@slipway/runtime/logger';
import { AppError } from '../errors';

/**
 * The one place errors become answers. AppErrors keep their status and code; Koa's own http errors
 * (e.g. a malformed body) keep their status with a generic code; anything else is a 500 whose details
 * go to the log, never to the client.
 */
export function errorHandler(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const { status, code, message, headers } = toAnswer(err);
      if (status >= 500 && code === 'internal') log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = status;
      ctx.set(headers);
      ctx.body = { error: { code, message } };
    }
  };
}

function toAnswer(err: unknown): { status: number; code: string; message: string; headers: Record<string, string> } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, headers: err.headers };
  if (isRedisDown(err)) {
    return { status: 503, code: 'redis_unavailable', message: 'Redis is unreachable; retry shortly.', headers: { 'Retry-After': '2' } };
  }
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    return { status, code: status === 413 ? 'payload_too_large' : 'bad_request', message: (err as Error).message, headers: {} };
  }
  return { status: 500, code: 'internal', message: 'Internal error; it has been logged.', headers: {} };
}

/** ioredis errors while disconnected (no offline queue, retries exhausted, connection closed). */
function isRedisDown(err: unknown): boolean {
  const message = (err as Error | undefined)?.message ?? '';
  const name = (err as Error | undefined)?.name ?? '';
  return (
    name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|enableOfflineQueue|Connection is closed|ECONNREFUSED|Command timed out/.test(message)
  );
}
