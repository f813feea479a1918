import { describe, expect, it } from 'vitest';
import type { LogLine } from '@slipway/contracts/logs';
import { appendEntries, isContinuation, parseJsonLine, toEntries } from '../src/lib/logview';

const line = (text: string, stream = 'stdout'): LogLine => ({ ts: '2026-11-24T10:00:00.000000000Z', app: 'a', version: '1', stream, text });

describe('JSON lines', () => {
  it('recognises pino, bunyan and winston levels and messages, keeping a prefix', () => {
    expect(parseJsonLine('{"level":30,"msg":"listening"}')).toEqual({ level: 'info', message: 'listening' });
    expect(parseJsonLine('{"level":"warn","message":"slow query"}')).toEqual({ level: 'warn', message: 'slow query' });
    expect(parseJsonLine('seq=3 {"severity":"ERROR","msg":"boom"}')).toEqual({ level: 'error', message: 'seq=3 boom' });
    expect(parseJsonLine('{"level":60}')).toEqual({ level: 'fatal', message: null });
  });

  it('leaves anything else alone', () => {
    expect(parseJsonLine('plain text')).toBeNull();
    expect(parseJsonLine('{not json}')).toBeNull();
    expect(parseJsonLine(`${'x'.repeat(50)} {"level":30}`)).toBeNull();
  });
});

describe('stack traces', () => {
  it('groups continuation lines under the line that started them', () => {
    const entries = toEntries([
      line('Error: connect ECONNREFUSED 127.0.0.1:5432'),
      line('    at TCPConnectWrap.afterConnect (node:net:1611:16)'),
      line('    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)'),
      line('next line'),
    ]);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ level: 'error', more: [expect.stringContaining('afterConnect'), expect.stringContaining('processTicks')] });
    expect(entries[1]!.line.text).toBe('next line');
  });

  it('does not glue lines of different streams together', () => {
    expect(toEntries([line('Error: x', 'stderr'), line('    at y', 'stdout')])).toHaveLength(2);
    expect(isContinuation('  File "app.py", line 3')).toBe(true);
    expect(isContinuation('Caused by: java.io.IOException')).toBe(true);
    expect(isContinuation('ordinary')).toBe(false);
  });
});

describe('appendEntries', () => {
  it('keeps at most `max` entries with stable keys, and groups across batches', () => {
    let entries = appendEntries([], [line('a'), line('b')], 0, 3);
    entries = appendEntries(entries, [line('Error: c'), line('    at d'), line('e')], 2, 3);
    expect(entries.map((e) => e.line.text)).toEqual(['b', 'Error: c', 'e']);
    expect(entries.map((e) => e.key)).toEqual(['1', '2', '4']);
    expect(entries[1]!.more).toEqual(['    at d']);
  });
});
