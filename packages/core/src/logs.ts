/**
 * Log history on disk: per app, append-only NDJSON segments `<data>/logs/apps/<app>/<start ms>-<writer>.ndjson`,
 * rotated at 8 MiB or daily, trimmed by total size and age (SLIPWAY_LOG_RETENTION_MB / _DAYS).
 * Files rather than Redis: Slipway's Redis runs with `noeviction`, so a gigabyte of history there would
 * starve the queue; files cost disk, which the retention bounds, and survive Redis being flushed.
 * The worker writes (one writer per process, its own segments); the API reads.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLine } from '@slipway/contracts/logs';

const SEGMENT_BYTES = 8 * 1024 * 1024;
const SEGMENT_MAX_AGE_MS = 24 * 3600 * 1000;
const SEGMENT_RE = /^(\d{13})-([\w.-]+)\.ndjson$/;

export function appLogDir(dataDir: string, app: string): string {
  return path.join(dataDir, 'logs', 'apps', app);
}

export function logsChannel(app: string): string {
  return `slipway:logs:${app}`;
}

interface OpenSegment {
  handle: FileHandle;
  bytes: number;
  openedAt: number;
}

export class LogWriter {
  private readonly open = new Map<string, OpenSegment>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataDir: string,
    private readonly writerId: string,
  ) {}

  /** Appends in order; calls are serialized so batches never interleave. */
  append(app: string, lines: LogLine[]): Promise<void> {
    if (!lines.length) return Promise.resolve();
    const run = this.chain.then(() => this.write(app, lines));
    this.chain = run.catch(() => {});
    return run;
  }

  private async write(app: string, lines: LogLine[]): Promise<void> {
    const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    let segment = this.open.get(app);
    if (segment && (segment.bytes >= SEGMENT_BYTES || Date.now() - segment.openedAt > SEGMENT_MAX_AGE_MS)) {
      await segment.handle.close();
      this.open.delete(app);
      segment = undefined;
    }
    if (!segment) {
      const dir = appLogDir(this.dataDir, app);
      await mkdir(dir, { recursive: true });
      const name = `${String(Date.now()).padStart(13, '0')}-${this.writerId}.ndjson`;
      segment = { handle: await open(path.join(dir, name), 'a', 0o640), bytes: 0, openedAt: Date.now() };
      this.open.set(app, segment);
    }
    // A full disk can take part of a batch: cut the segment back so a retry neither splits nor repeats a line.
    const written = await segment.handle.write(data).then(
      (r) => r.bytesWritten,
      (err: unknown) => err,
    );
    if (written !== data.length) {
      await segment.handle.truncate(segment.bytes).catch(() => {});
      throw written instanceof Error ? written : Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    segment.bytes += data.length;
  }

  /** An app's segments are closed (before its folder is deleted). */
  async forget(app: string): Promise<void> {
    await this.chain;
    await this.open.get(app)?.handle.close();
    this.open.delete(app);
  }

  async close(): Promise<void> {
    await this.chain;
    await Promise.allSettled([...this.open.values()].map((s) => s.handle.close()));
    this.open.clear();
  }

  /**
   * Oldest segments go first, across all apps, until the total fits `maxBytes`; segments older than
   * `maxDays` go anyway. Open segments are rotated first so they can go too.
   */
  async enforceRetention(maxBytes: number, maxDays: number): Promise<{ removed: number; bytes: number }> {
    const root = path.join(this.dataDir, 'logs', 'apps');
    const segments: Array<{ file: string; start: number; size: number; mtime: number }> = [];
    for (const app of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(root, app)).catch(() => [] as string[])) {
        const match = SEGMENT_RE.exec(name);
        if (!match) continue;
        const file = path.join(root, app, name);
        const info = await stat(file).catch(() => null);
        if (info) segments.push({ file, start: Number(match[1]), size: info.size, mtime: info.mtimeMs });
      }
    }
    segments.sort((a, b) => a.start - b.start);
    let total = segments.reduce((n, s) => n + s.size, 0);
    const oldest = Date.now() - maxDays * 24 * 3600 * 1000;
    let removed = 0;
    for (const segment of segments) {
      if (total <= maxBytes && segment.mtime >= oldest) break;
      for (const [app, open] of this.open) {
        if (segment.file.startsWith(`${appLogDir(this.dataDir, app)}${path.sep}`)) {
          await open.handle.close();
          this.open.delete(app);
        }
      }
      await rm(segment.file, { force: true });
      total -= segment.size;
      removed++;
    }
    return { removed, bytes: total };
  }
}

export interface LogFilter {
  /** ISO times, inclusive. */
  since?: string | undefined;
  until?: string | undefined;
  /** Case-insensitive text, or a regular expression. */
  match?: ((text: string) => boolean) | undefined;
  version?: string | undefined;
  stream?: string | undefined;
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
