import path from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

/** Where each process keeps its own log files: `<data>/logs/slipway/<service>.<n>.log`, rotated at 10 MiB, 5 kept. */
export function ownLogDir(dataDir: string): string {
  return path.join(dataDir, 'logs', 'slipway');
}

/**
 * Slipway's own structured logs: pino JSON on stdout and, given a data dir, in rotating files there
 * (`GET /api/system/logs` reads them). Secrets are redacted by key name.
 */
export function createLogger(service: string, level = 'info', dataDir?: string): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    redact: {
      paths: ['token', 'password', 'authorization', '*.token', '*.password', '*.authorization', 'headers.authorization', 'headers.cookie', 'env.*', 'settings.env.*'],
      censor: '[redacted]',
    },
  };
  if (!dataDir) return pino(options);
  const transport = pino.transport({
    targets: [
      { target: 'pino/file', level, options: { destination: 1 } },
      { target: 'pino-roll', level, options: { file: path.join(ownLogDir(dataDir), service), extension: '.log', size: '10m', limit: { count: 4 }, mkdir: true } },
    ],
  });
  return pino(options, transport);
}
