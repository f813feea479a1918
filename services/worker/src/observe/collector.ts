/**
 * Log collection: one follow-stream per Slipway container (never one per viewer), reattached when the
 * container, the engine or Slipway restarts. Each line is kept in history (LogWriter) and published on the
 * app's Redis channel for live viewers. A cursor per container and stream (last line's time and how many
 * lines had it) makes a reattach neither lose nor repeat lines: Docker replays from `since`, the cursors
 * drop the rest. Per stream, because Docker stamps stdout and stderr separately: only within one stream
 * are the times in order.
 */
import type { Readable } from 'node:stream';
import type { LogLine } from '@slipway/contracts/logs';
import { logsChannel, readLogs } from '@slipway/records/app-logs';
import type { LogWriter } from './log-writer';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';
import { CursorFilter, TimestampedLines, type Cursor } from './lines';
import { LogFiles } from './files';

const FLUSH_MS = 50;
const FLUSH_LINES = 2000;
const CURSORS = 'slipway:logcursors';
/** Lines per app held in memory while the history cannot be written (a full data disk); the oldest go first. */
const BACKLOG_LINES = 50_000;
const RETRY_MS = 1000;
/** How often running containers are checked for a missing log reader. */
const SWEEP_MS = 30_000;

type Stream = 'stdout' | 'stderr';
type Filters = Record<Stream, CursorFilter>;
/** What is saved per container: each stream's cursor. */
type Position = Record<Stream, Cursor | null>;

interface Attached {
  app: string;
  version: string;
  /** Which instance of the version (its label): lines of the others say theirs. */
  replica: number;
  filters: Filters;
  stop: () => void;
}

export class LogCollector {
  private readonly attached = new Map<string, Attached>();
  private pending = new Map<string, LogLine[]>();
  private readonly dirtyCursors = new Map<string, Filters>();
  /** Where the streams that ended in this process stopped: ahead of Redis until the next flush has run. */
  private readonly ended = new Map<string, Filters>();
  private timer: NodeJS.Timeout | null = null;
  /** Lines already shown live but not yet in the history, per app. */
  private readonly backlog = new Map<string, LogLine[]>();
  private retry: NodeJS.Timeout | null = null;
  private events: { stop: () => void } | null = null;
  private stopped = false;
  private gc: NodeJS.Timeout | null = null;
  private sweep: NodeJS.Timeout | null = null;
  readonly files: LogFiles;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly writer: LogWriter,
  ) {
    this.files = new LogFiles(ctx, (line) => this.add(line));
  }

  async start(): Promise<void> {
    this.gc ??= setInterval(() => void this.forgetGone().catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'could not forget the cursors of removed containers')), 10 * 60_000);
    // A start event can be missed (the event stream reconnecting, an engine call failing under load):
    // the sweep follows any running container that has no reader, so no app stays without logs for long.
    this.sweep ??= setInterval(() => void this.attachRunning().catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'log sweep could not list containers')), SWEEP_MS);
    await this.watchEvents();
    await this.attachRunning();
  }

  /** After the engine came back: watch again, and pick up what started meanwhile. */
  private async restart(): Promise<void> {
    await this.watchEvents();
    // The engine that just came back may still refuse a listing; the sweep lists again shortly.
    await this.attachRunning().catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'could not list containers after the engine came back'));
  }

  private async attachRunning(): Promise<void> {
    if (this.stopped) return;
    for (const c of await this.ctx.engine.containers.list({ [LABEL.managed]: true })) {
      if (c.state === 'running' && !this.attached.has(c.id)) void this.attach(c.id);
    }
  }

  private async watchEvents(): Promise<void> {
    if (this.stopped) return;
    try {
      this.events = await this.ctx.engine.streams.watchStarts(
        (id) => void this.attach(id),
        () => {
          // The engine went away (restart).
          if (!this.stopped) setTimeout(() => void this.restart(), 1000);
        },
      );
    } catch {
      if (!this.stopped) setTimeout(() => void this.restart(), 2000);
    }
  }

  /** Follows a container's output, from where the last collector stopped. */
  async attach(id: string): Promise<void> {
    if (this.attached.has(id) || this.stopped) return;
    // Held from the first await, so a start event and a sweep arriving together open one reader.
    const entry: Attached = { app: '', version: '', replica: 0, filters: { stdout: new CursorFilter(null), stderr: new CursorFilter(null) }, stop: () => {} };
    this.attached.set(id, entry);
    try {
      const containers = await this.ctx.engine.containers.list({ [LABEL.managed]: true });
      const info = containers.find((c) => c.id === id);
      const app = info?.labels[LABEL.app];
      const version = info?.labels[LABEL.version];
      if (!info || !app || !version || info.labels[LABEL.managed] !== 'true') {
        this.attached.delete(id);
        return;
      }
      const known = this.ended.get(id);
      const replica = Number(info.labels[LABEL.replica] ?? 0);
      const position = known ? positionOf(known) : await this.onDisk(app, version, replica, parsePosition(await this.ctx.redis.hget(CURSORS, id)));
      Object.assign(entry, { app, version, replica, filters: { stdout: new CursorFilter(position.stdout), stderr: new CursorFilter(position.stderr) } });
      // `since` is inclusive at second resolution: the cursor filters drop what was already kept.
      const times = [position.stdout?.ts, position.stderr?.ts].filter((t): t is string => !!t).sort();
      const since = times.length ? String(Math.floor(Date.parse(times[0]!) / 1000)) : undefined;
      const { stdout, stderr, stop } = await this.ctx.engine.streams.followLogs(id, since);
      entry.stop = stop;
      let open = 2;
      const ended = () => {
        if (--open > 0) return;
        this.ended.set(id, entry.filters);
        this.attached.delete(id);
        this.files.detach(id);
        void this.reattachIfRunning(id);
      };
      this.read(id, entry, stdout, 'stdout', ended);
      this.read(id, entry, stderr, 'stderr', ended);
    } catch (err) {
      entry.stop();
      this.attached.delete(id);
      // Seen at warn: an app whose logs are not followed looks silent in the panel. The sweep tries again.
      this.ctx.log.warn({ container: id.slice(0, 12), err: (err as Error).message }, 'could not follow logs; trying again shortly');
      return;
    }
    await this.files.attach(id, entry.app, entry.version).catch((err: Error) => this.ctx.log.warn({ container: id.slice(0, 12), err: err.message }, 'could not follow the app\'s log files'));
  }

  /**
   * A worker killed between writing a batch to the history and saving its cursor left the saved cursor
   * behind what is on disk: the history, read from the saved cursor on, says where this container's
   * streams really stopped, so the batch is not written twice. Only for a container seen before (a cursor
   * saved): a new container of the same version must not start after its predecessor's lines.
   */
  private async onDisk(app: string, version: string, replica: number, saved: Position): Promise<Position> {
    const out: Position = { ...saved };
    for (const stream of ['stdout', 'stderr'] as const) {
      const cursor = saved[stream];
      if (!cursor) continue;
      const lines = await readLogs(this.ctx.settings.dataDir, app, { since: cursor.ts, version, stream, instance: replica, tail: BACKLOG_LINES }).catch(() => []);
      const last = lines.at(-1)?.ts;
      if (!last || last < cursor.ts) continue;
      const count = lines.filter((l) => l.ts === last).length;
      if (last > cursor.ts || count > cursor.count) out[stream] = { ts: last, count };
    }
    return out;
  }

  private read(id: string, entry: Attached, stream: Readable, name: Stream, ended: () => void): void {
    const lines = new TimestampedLines();
    const take = (raw: ReturnType<TimestampedLines['push']>) => {
      for (const line of raw) {
        if (!entry.filters[name].accept(line)) continue;
        this.add({ ts: line.ts, app: entry.app, version: entry.version, stream: name, text: line.text, ...(entry.replica ? { instance: entry.replica } : {}) });
        this.dirtyCursors.set(id, entry.filters);
      }
    };
    stream.on('data', (chunk: Buffer) => take(lines.push(chunk)));
    stream.on('end', () => {
      take(lines.end());
      ended();
    });
  }

  /** A stream can end while its container still runs (the engine restarted its log reader): follow again. */
  private async reattachIfRunning(id: string): Promise<void> {
    if (this.stopped) return;
    const state = await this.ctx.engine.containers.state(id).catch(() => null);
    if (state?.running) setTimeout(() => void this.attach(id), 200);
  }

  add(line: LogLine): void {
    let batch = this.pending.get(line.app);
    if (!batch) this.pending.set(line.app, (batch = []));
    batch.push(line);
    if (batch.length >= FLUSH_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batches = this.pending;
    this.pending = new Map();
    const cursors: Record<string, string> = {};
    for (const [id, filters] of this.dirtyCursors) cursors[id] = JSON.stringify(positionOf(filters));
    this.dirtyCursors.clear();
    for (const app of new Set([...batches.keys(), ...this.backlog.keys()])) {
      const fresh = batches.get(app) ?? [];
      // Taken out while in flight, so a flush running alongside cannot write the same lines twice.
      const held = this.backlog.get(app) ?? [];
      this.backlog.delete(app);
      try {
        await this.writer.append(app, held.length ? [...held, ...fresh] : fresh);
        if (held.length) this.ctx.log.info({ app, lines: held.length }, 'log history written again');
      } catch (err) {
        const newer = this.backlog.get(app) ?? [];
        if (!held.length && !newer.length) this.ctx.log.warn({ app, err: (err as Error).message }, 'cannot write log history; holding lines in memory and retrying');
        this.backlog.set(app, [...held, ...fresh, ...newer].slice(-BACKLOG_LINES));
      }
      if (fresh.length) await this.ctx.redis.publish(logsChannel(app), JSON.stringify(fresh)).catch(() => 0);
    }
    if (this.backlog.size && !this.stopped) {
      this.retry ??= setTimeout(() => {
        this.retry = null;
        void this.flush();
      }, RETRY_MS);
    }
    // The cursor moves only after the lines are on disk: a crash in between repeats nothing and loses nothing
    // that Docker still holds.
    if (Object.keys(cursors).length) await this.ctx.redis.hset(CURSORS, cursors).catch(() => 0);
  }

  /** Cursors of containers that no longer exist. */
  async forgetGone(): Promise<void> {
    const existing = new Set((await this.ctx.engine.containers.list({ [LABEL.managed]: true })).map((c) => c.id));
    const ids = await this.ctx.redis.hkeys(CURSORS);
    const gone = ids.filter((id) => !existing.has(id));
    if (gone.length) await this.ctx.redis.hdel(CURSORS, ...gone);
    for (const id of this.ended.keys()) if (!existing.has(id)) this.ended.delete(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.gc) clearInterval(this.gc);
    if (this.sweep) clearInterval(this.sweep);
    if (this.retry) clearTimeout(this.retry);
    this.events?.stop();
    for (const entry of this.attached.values()) entry.stop();
    this.files.stopAll();
    await this.flush();
  }
}

function positionOf(filters: Filters): Position {
  return { stdout: filters.stdout.position, stderr: filters.stderr.position };
}

/** A saved position; one cursor for both streams is how earlier versions saved it. */
function parsePosition(saved: string | null): Position {
  const value = saved ? (JSON.parse(saved) as Position | Cursor) : null;
  if (!value) return { stdout: null, stderr: null };
  return 'ts' in value ? { stdout: value, stderr: value } : value;
}
