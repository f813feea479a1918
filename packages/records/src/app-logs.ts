/**
 * Log history on disk: per app, append-only NDJSON segments `<data>/logs/apps/<app>/<start ms>-<writer>.ndjson`,
 * rotated at 8 MiB or daily, trimmed by total size and age (SLIPWAY_LOG_RETENTION_MB / _DAYS).
 * Files rather than Redis: Slipway's Redis runs with `noeviction`, so a gigabyte of history there would
 * starve the queue; files cost disk, which the retention bounds, and survive Redis being flushed.
 * The worker writes (services/worker/src/observe/log-writer.ts: one writer per process, its own
 * segments); the API reads.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLine } from '@slipway/contracts/logs';

/** A segment's file name: its first line's time and its writer. */
export const SEGMENT_RE = /^(\d{13})-([\w.-]+)\.ndjson$/;

export function appLogDir(dataDir: string, app: string): string {
  return path.join(dataDir, 'logs', 'apps', app);
}

export function logsChannel(app: string): string {
  return `slipway:logs:${app}`;
}

export interface LogFilter {
  /** ISO times, inclusive. */
  since?: string | undefined;
  until?: string | undefined;
  /** Case-insensitive text, or a regular expression. */
  match?: ((text: string) => boolean) | undefined;
  version?: string | undefined;
  stream?: string | undefined;
  /** One of the version's instances (lines without the field are the first's). */
  instance?: number | undefined;
  tail: number;
}

/** The newest `tail` lines matching the filter, oldest first. Reads segments newest first and stops early. */
export async function readLogs(dataDir: string, app: string, filter: LogFilter): Promise<LogLine[]> {
  const dir = appLogDir(dataDir, app);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => SEGMENT_RE.test(n)).sort().reverse();
  const sinceNorm = filter.since && normalizeTs(filter.since);
  const untilNorm = filter.until && normalizeTs(filter.until);
  const picked: LogLine[] = [];
  for (const name of names) {
    const start = Number(SEGMENT_RE.exec(name)![1]);
    if (untilNorm && new Date(start).toISOString() > untilNorm) continue;
    const matches: LogLine[] = [];
    const lines = createInterface({ input: createReadStream(path.join(dir, name)), crlfDelay: Infinity });
    for await (const raw of lines) {
      if (!raw) continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        continue; // a line cut by a crash mid-write
      }
      if (sinceNorm && line.ts < sinceNorm) continue;
      if (untilNorm && line.ts > untilNorm) continue;
      if (filter.version && line.version !== filter.version) continue;
      if (filter.stream && line.stream !== filter.stream) continue;
      if (filter.instance !== undefined && (line.instance ?? 0) !== filter.instance) continue;
      if (filter.match && !filter.match(line.text)) continue;
      matches.push(line);
      if (matches.length > filter.tail * 2) matches.splice(0, matches.length - filter.tail);
    }
    picked.unshift(...matches.slice(-filter.tail));
    if (picked.length >= filter.tail) break;
    // Segments are ordered by start: once one started before `since`, older ones hold nothing newer.
    if (sinceNorm && new Date(start).toISOString() < sinceNorm) break;
  }
  return picked.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)).slice(-filter.tail);
}

/** `2026-11-24T09:30:00.1234Z` → `2026-11-24T09:30:00.123400000Z`: fixed width, so strings sort as times. */
export function normalizeTs(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) {
    const d = new Date(ts);
    return Number.isNaN(d.getTime()) ? ts : normalizeTs(d.toISOString());
  }
  // Docker always writes UTC; an offset (from a user's query) is converted, to the millisecond.
  if (m[3] !== 'Z') return normalizeTs(new Date(ts).toISOString());
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}
