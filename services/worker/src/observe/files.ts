/**
 * Custom log sources (the app's `logFiles` setting): files inside the container followed with `tail -F`
 * through `docker exec`, each line recorded with the file's path as its stream. The command string is
 * fixed; the paths are passed as arguments (expanded as globs by the container's shell, never parsed as
 * code). Only lines written while Slipway follows are collected (`tail -n 0`); paths with spaces are not
 * supported; files that appear after the first match are not picked up until the container restarts.
 */
import { MAX_LINE_CHARS, type LogLine } from '@slipway/contracts/logs';
import { normalizeTs } from '@slipway/records/app-logs';
import type { WorkerContext } from '../context';
import { LineSplitter } from '../docker/streams';
import { splitText } from './lines';

/**
 * A fixed script; the patterns arrive as arguments. `$p` is unquoted on purpose: the shell expands it as
 * a glob (it is never evaluated as code). It waits until a pattern matches a file (the app may create
 * its log folder after it starts), then follows the files found.
 */
const FOLLOW_SCRIPT = [
  'while :; do',
  '  files=""',
  '  for p in "$@"; do for f in $p; do [ -f "$f" ] && files="$files $f"; done; done',
  '  [ -n "$files" ] && exec tail -v -n 0 -F $files 2>/dev/null',
  '  sleep 1',
  'done',
].join('\n');
const FOLLOW = ['/bin/sh', '-c', FOLLOW_SCRIPT, 'slipway-logs'];
const HEADER = /^==> (.+) <==$/;

export class LogFiles {
  private readonly following = new Map<string, () => void>();

  constructor(
    private readonly ctx: WorkerContext,
    private readonly emit: (line: LogLine) => void,
  ) {}

  async attach(containerId: string, app: string, version: string): Promise<void> {
    const { logFiles } = await this.ctx.store.getSettings(app);
    if (!logFiles.length || this.following.has(containerId)) return;
    try {
      const { stdout, stop } = await this.ctx.engine.streams.exec(containerId, [...FOLLOW, ...logFiles]);
      this.following.set(containerId, stop);
      let file = logFiles.length === 1 ? logFiles[0]! : '';
      const lines = new LineSplitter(MAX_LINE_CHARS * 4);
      stdout.on('data', (chunk: Buffer) => {
        for (const raw of lines.push(chunk)) {
          const header = HEADER.exec(raw);
          if (header) {
            file = header[1]!;
            continue;
          }
          if (!raw && !file) continue;
          const ts = normalizeTs(new Date().toISOString());
          for (const text of splitText(raw)) this.emit({ ts, app, version, stream: file, text });
        }
      });
      stdout.on('end', () => this.following.delete(containerId));
    } catch (err) {
      this.ctx.log.debug({ app, err: (err as Error).message }, 'could not follow log files');
    }
  }

  detach(containerId: string): void {
    this.following.get(containerId)?.();
    this.following.delete(containerId);
  }

  stopAll(): void {
    for (const stop of this.following.values()) stop();
    this.following.clear();
  }
}
