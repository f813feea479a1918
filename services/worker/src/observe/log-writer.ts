/**
 * The worker's half of the log history (the format and the reading are in @slipway/records/app-logs):
 * per app, append-only NDJSON segments, rotated at 8 MiB or daily, trimmed by total size and age
 * (SLIPWAY_LOG_RETENTION_MB / _DAYS). One writer per process, its own segments.
 */
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { LogLine } from '@slipway/contracts/logs';
import { appLogDir, SEGMENT_RE } from '@slipway/records/app-logs';

const SEGMENT_BYTES = 8 * 1024 * 1024;
const SEGMENT_MAX_AGE_MS = 24 * 3600 * 1000;

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
    // The caller gets the error from `run`; the chain only keeps writes in order.
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
      // Best effort: the next write starts a new segment if this one stays torn.
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
