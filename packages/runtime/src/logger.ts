import path from 'node:path';
import { pino, type Logger } from 'pino';
import pinoRoll from 'pino-roll';

export type { Logger };

/** Where each process keeps its own log files: `<data>/logs/slipway/<service>.<n>.log`, rotated at 10 MiB, 5 kept. */
export function ownLogDir(dataDir: string): string {
  return path.join(dataDir, 'logs', 'slipway');
}

/** What a log file may hold in memory while its disk refuses writes; beyond it, lines are dropped from the file only. */
const FILE_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * Slipway's own structured logs: pino JSON on stdout and, given a data dir, in rotating files there
 * (`GET /api/system/logs` reads them). Secrets are redacted by key name.
 *
 * The file is written from this thread rather than a pino transport thread so that its errors are ours to
 * handle: a full data disk must cost file lines, never the process (an unhandled transport error kills it).
 */
export async function createLogger(service: string, level = 'info', dataDir?: string): Promise<Logger> {
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
  const file = await pinoRoll({
    file: path.join(ownLogDir(dataDir), service),
    extension: '.log',
    size: '10m',
    limit: { count: 4 },
    mkdir: true,
    maxLength: FILE_BACKLOG_BYTES,
  });
  let failing = false;
  file.on('error', (err: Error) => {
    // Said once per episode, on stderr: logging it through pino would feed the file that fails.
    if (!failing) process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), service, msg: 'cannot write the log file; lines go to stdout only', err: err.message })}\n`);
    failing = true;
  });
  file.on('write', () => {
    failing = false;
  });
  const streams = pino.multistream(
    [
      { level: level as pino.Level, stream: pino.destination({ dest: 1, sync: true }) },
      { level: level as pino.Level, stream: file },
    ],
    { dedupe: false },
  );
  return pino(options, streams);
}
