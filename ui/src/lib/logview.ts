/**
 * How log lines are shown: JSON lines (pino, bunyan, winston…) are recognised and coloured by level, and
 * the continuation lines of a stack trace are grouped under the line that started it.
 */
import type { LogLine } from '@slipway/contracts/logs';

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | null;

export interface Entry {
  key: string;
  line: LogLine;
  level: Level;
  /** For a JSON line: its message, shown first. */
  message: string | null;
  /** Stack frames and other continuation lines grouped under this one. */
  more: string[];
}

const NUMERIC: Record<number, Level> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const WORDS: Record<string, Level> = { trace: 'trace', debug: 'debug', info: 'info', notice: 'info', warn: 'warn', warning: 'warn', error: 'error', err: 'error', fatal: 'fatal', critical: 'fatal', panic: 'fatal' };

export function parseJsonLine(text: string): { level: Level; message: string | null } | null {
  const start = text.indexOf('{');
  if (start < 0 || start > 40 || !text.trimEnd().endsWith('}')) return null;
  try {
    const obj = JSON.parse(text.slice(start)) as Record<string, unknown>;
    const raw = obj.level ?? obj.severity ?? obj.lvl;
    const level = typeof raw === 'number' ? (NUMERIC[raw] ?? null) : typeof raw === 'string' ? (WORDS[raw.toLowerCase()] ?? null) : null;
    const message = obj.msg ?? obj.message;
    // Whatever came before the JSON (a sequence number, a time) stays in front of the message.
    const prefix = text.slice(0, start);
    return { level, message: typeof message === 'string' ? `${prefix}${message}` : null };
  } catch {
    return null;
  }
}

/** Plain lines still get a level when they say so up front ("ERROR …", "[warn] …", "Error: …"). */
function plainLevel(text: string): Level {
  const m = /^\s*\[?(trace|debug|info|notice|warn(?:ing)?|error|err|fatal|critical|panic)\b/i.exec(text);
  if (m) return WORDS[m[1]!.toLowerCase()] ?? null;
  return /^\s*(\w*Error|Exception|Traceback)\b/.test(text) ? 'error' : null;
}

/** `    at fn (file:1:2)`, `  File "x.py", line 3`, `Caused by:` … belong to the entry above. */
export function isContinuation(text: string): boolean {
  return /^\s+(at |\.\.\. \d+ more|File "|\^)/.test(text) || /^(Caused by:|\s{4,}\S)/.test(text);
}

export function toEntries(lines: LogLine[], from = 0): Entry[] {
  return appendEntries([], lines, from, Infinity);
}

/**
 * New lines added to shown entries, each line parsed once: a continuation line joins the last entry
 * (a new object, so a keyed view re-renders it), and the oldest entries go beyond `max`.
 */
export function appendEntries(entries: Entry[], lines: LogLine[], firstKey: number, max: number): Entry[] {
  const out = entries.slice();
  let key = firstKey;
  for (const line of lines) {
    const prev = out.at(-1);
    if (prev && isContinuation(line.text) && prev.line.stream === line.stream && prev.line.version === line.version) {
      out[out.length - 1] = { ...prev, more: [...prev.more, line.text] };
      key++;
      continue;
    }
    const json = parseJsonLine(line.text);
    out.push({ key: String(key++), line, level: json?.level ?? plainLevel(line.text), message: json?.message ?? null, more: [] });
  }
  return out.length > max ? out.slice(out.length - max) : out;
}
