/**
 * Docker's `logs --timestamps` output, one stream at a time (stdout or stderr, already demultiplexed):
 * `<RFC3339Nano> <text>\n` per line, cut into chunks anywhere. Carriage returns (progress bars) become
 * line ends, and a line longer than MAX_LINE_CHARS is split, so one record never grows without bound.
 */
import { MAX_LINE_CHARS } from '@slipway/contracts/logs';
import { normalizeTs } from '@slipway/records/app-logs';
import { LineSplitter } from '../docker/streams';

export interface RawLine {
  ts: string;
  text: string;
}

const TS_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) ?/;

export class TimestampedLines {
  // No newline for a long time: what there is goes out rather than buffering without bound.
  private readonly lines = new LineSplitter(MAX_LINE_CHARS * 4);

  push(chunk: Buffer | Uint8Array): RawLine[] {
    return this.lines.push(chunk).flatMap(parse);
  }

  end(): RawLine[] {
    return this.lines.end().flatMap(parse);
  }
}

function parse(line: string): RawLine[] {
  const m = TS_RE.exec(line);
  const ts = m ? normalizeTs(m[1]!) : normalizeTs(new Date().toISOString());
  const text = m ? line.slice(m[0].length) : line;
  return splitText(text).map((t) => ({ ts, text: t }));
}

/** `\r`-separated progress output becomes several lines (empty ones dropped); long lines are cut. */
export function splitText(text: string): string[] {
  const parts = text.includes('\r') ? text.split(/\r\n|\r/).filter((p, i, all) => p !== '' || (all.length === 1 && i === 0)) : [text];
  const out: string[] = [];
  for (const part of parts) {
    if (part.length <= MAX_LINE_CHARS) out.push(part);
    else for (let i = 0; i < part.length; i += MAX_LINE_CHARS) out.push(part.slice(i, i + MAX_LINE_CHARS));
  }
  return out.length ? out : [''];
}

/** Where a follow-stream stopped: the last line's time, and how many lines carried that very time. */
export interface Cursor {
  ts: string;
  count: number;
}

/**
 * Drops lines already collected before a reattach: Docker's `since` has second resolution in practice,
 * so lines at or before the cursor come again. Lines sharing the cursor's exact time are skipped by count.
 */
export class CursorFilter {
  private seenAtCursor = 0;

  constructor(private cursor: Cursor | null) {}

  accept(line: RawLine): boolean {
    if (this.cursor) {
      if (line.ts < this.cursor.ts) return false;
      if (line.ts === this.cursor.ts && this.seenAtCursor < this.cursor.count) {
        this.seenAtCursor++;
        return false;
      }
    }
    this.advance(line.ts);
    return true;
  }

  private advance(ts: string): void {
    if (this.cursor && this.cursor.ts === ts) this.cursor.count++;
    else this.cursor = { ts, count: 1 };
    this.seenAtCursor = this.cursor.count;
  }

  get position(): Cursor | null {
    return this.cursor ? { ...this.cursor } : null;
  }
}
