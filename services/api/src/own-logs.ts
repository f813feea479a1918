/** `GET /api/system/logs`: Slipway's own logs, from the rotating files every process writes (pino-roll). */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLevel } from '@slipway/contracts/requests';
import { ownLogDir } from '@slipway/runtime/logger';

/** pino's numbers for the level names the query accepts (`OwnLogsQuerySchema`). */
export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const satisfies Record<LogLevel, number>;
export type LevelName = keyof typeof LEVELS;
const NAMES = Object.fromEntries(Object.entries(LEVELS).map(([k, v]) => [v, k])) as Record<number, LevelName>;

export interface OwnLogLine {
  time: string;
  level: LevelName;
  service: string;
  msg: string;
  [field: string]: unknown;
}

/** The newest `tail` lines at `level` or above, across api, worker and gateway, oldest first. */
export async function readOwnLogs(dataDir: string, tail: number, level: LevelName): Promise<OwnLogLine[]> {
  const dir = ownLogDir(dataDir);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^[\w-]+\.\d+\.log$/.test(f));
  // Newest rotation first per service: `worker.3.log` is newer than `worker.2.log`.
  const ordered = files.sort((a, b) => Number(b.split('.').at(-2)) - Number(a.split('.').at(-2)));
  const min = LEVELS[level];
  const lines: OwnLogLine[] = [];
  for (const file of ordered) {
    const kept: OwnLogLine[] = [];
    for await (const raw of createInterface({ input: createReadStream(path.join(dir, file)), crlfDelay: Infinity })) {
      if (!raw) continue;
      try {
        const entry = JSON.parse(raw) as { level: number; time: number; service?: string; msg?: string; pid?: number; hostname?: string; name?: string };
        if (entry.level < min) continue;
        const { level: n, time, service, msg, pid: _pid, hostname: _host, name: _name, ...rest } = entry;
        kept.push({ ...rest, time: new Date(time).toISOString(), level: NAMES[n] ?? 'info', service: service ?? '', msg: msg ?? '' });
        if (kept.length > tail * 2) kept.splice(0, kept.length - tail);
      } catch {
        // a line cut by a crash mid-write
      }
    }
    lines.push(...kept.slice(-tail));
    if (lines.length >= tail * 4) break;
  }
  return lines.sort((a, b) => a.time.localeCompare(b.time)).slice(-tail);
}
