import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/docker/streams';

describe('LineSplitter', () => {
  it('joins lines cut anywhere, UTF-8 characters included', () => {
    const bytes = Buffer.from('first\nzweite Zeile: grüße 日志\nlast');
    const splitter = new LineSplitter();
    const out: string[] = [];
    // One byte at a time: every cut, inside multi-byte characters too.
    for (const byte of bytes) out.push(...splitter.push(Buffer.from([byte])));
    out.push(...splitter.end());
    expect(out).toEqual(['first', 'zweite Zeile: grüße 日志', 'last']);
  });

  it('hands out a line that grows past its bound without a newline', () => {
    const splitter = new LineSplitter(8);
    expect(splitter.push(Buffer.from('0123456789'))).toEqual(['0123456789']);
    expect(splitter.push(Buffer.from('ab\ncd'))).toEqual(['ab']);
    expect(splitter.end()).toEqual(['cd']);
    expect(splitter.end()).toEqual([]);
  });
});
