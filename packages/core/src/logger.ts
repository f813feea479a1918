import { pino, type Logger } from 'pino';

export type { Logger };

/** Slipway's own structured logs (pino JSON on stdout). Secrets are redacted by key name. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: {
      paths: ['token', 'password', 'authorization', '*.token', '*.password', '*.authorization', 'headers.authorization', 'env.*'],
      censor: '[redacted]',
    },
  });
}
