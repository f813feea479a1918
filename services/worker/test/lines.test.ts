import { describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS } from '@slipway/contracts/logs';
import { normalizeTs } from '@slipway/records/app-logs';
import { CursorFilter, splitText, TimestampedLines } from '../src/observe/lines';

describe('TimestampedLines', () => {
  const text = '2026-11-24T09:30:00.123456789Z hello\n2026-11-24T09:30:01.5Z wörld\n2026-11-24T09:30:02Z 10%\r20%\rdone\n';

  it('gives the same lines however the output is cut', () => {
    const whole = new TimestampedLines().push(Buffer.from(text));
    expect(whole).toEqual([
      { ts: '2026-11-24T09:30:00.123456789Z', text: 'hello' },
      { ts: '2026-11-24T09:30:01.500000000Z', text: 'wörld' },
      { ts: '2026-11-24T09:30:02.000000000Z', text: '10%' },
      { ts: '2026-11-24T09:30:02.000000000Z', text: '20%' },
      { ts: '2026-11-24T09:30:02.000000000Z', text: 'done' },
    ]);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut += 3) {
      const lines = new TimestampedLines();
      expect([...lines.push(bytes.subarray(0, cut)), ...lines.push(bytes.subarray(cut)), ...lines.end()]).toEqual(whole);
    }
  });

  it('splits a very long line and never buffers without bound', () => {
    const lines = new TimestampedLines();
    const long = 'x'.repeat(MAX_LINE_CHARS * 2 + 10);
    const out = [...lines.push(Buffer.from(`2026-11-24T09:30:00Z ${long}\n`)), ...lines.end()];
    expect(out.map((l) => l.text.length)).toEqual([MAX_LINE_CHARS, MAX_LINE_CHARS, 10]);
    const endless = new TimestampedLines();
    let emitted = 0;
    for (let i = 0; i < 10; i++) emitted += endless.push(Buffer.from('y'.repeat(MAX_LINE_CHARS))).length;
    expect(emitted).toBeGreaterThan(0);
  });

  it('keeps empty lines and lines without a timestamp', () => {
    const out = new TimestampedLines().push(Buffer.from('2026-11-24T09:30:00Z \nno stamp here\n'));
    expect(out.map((l) => l.text)).toEqual(['', 'no stamp here']);
  });
});

describe('splitText', () => {
  it('treats \\r as a line end, dropping the empty pieces a progress bar leaves', () => {
    expect(splitText('a\rb\r\nc\r')).toEqual(['a', 'b', 'c']);
    expect(splitText('')).toEqual(['']);
  });
});

describe('CursorFilter', () => {
  const at = (s: string) => normalizeTs(`2026-11-24T09:30:0${s}Z`);

  it('drops what came before the cursor and the lines already seen at its exact time', () => {
    const filter = new CursorFilter({ ts: at('1'), count: 2 });
    const lines = [at('0'), at('1'), at('1'), at('1'), at('2')].map((ts, i) => ({ ts, text: String(i) }));
    expect(lines.filter((l) => filter.accept(l)).map((l) => l.text)).toEqual(['3', '4']);
    expect(filter.position).toEqual({ ts: at('2'), count: 1 });
  });

  it('counts lines sharing a time so the next reattach skips exactly them', () => {
    const filter = new CursorFilter(null);
    for (const ts of [at('1'), at('1'), at('1')]) filter.accept({ ts, text: '' });
    expect(filter.position).toEqual({ ts: at('1'), count: 3 });
  });
});

describe('normalizeTs', () => {
  it('pads fractions to nine digits so timestamps sort as strings', () => {
    expect(normalizeTs('2026-11-24T09:30:00Z')).toBe('2026-11-24T09:30:00.000000000Z');
    expect(normalizeTs('2026-11-24T09:30:00.1Z')).toBe('2026-11-24T09:30:00.100000000Z');
    expect(normalizeTs('2026-11-24T10:30:00.123+01:00')).toBe('2026-11-24T09:30:00.123000000Z');
  });
});
