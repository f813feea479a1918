import type { ErrorCode } from '@slipway/contracts/errors';

/** A failure the client can act on: becomes `{error:{code,message}}` with `status` in one place. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, code: ErrorCode = 'bad_request') => new AppError(400, code, message);
export const notFound = (code: ErrorCode, message: string) => new AppError(404, code, message);
export const conflict = (code: ErrorCode, message: string) => new AppError(409, code, message);
export const unprocessable = (code: ErrorCode, message: string) => new AppError(422, code, message);
export const redisUnavailable = () =>
  new AppError(503, 'redis_unavailable', 'Redis is unreachable; Slipway cannot read or queue deploys right now. Retry shortly.', {
    'Retry-After': '2',
  });
