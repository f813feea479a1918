import { describe, expect, it } from 'vitest';
import { AppError } from '../src/errors';
import { logMatcher } from '../src/log-search';

const codeOf = (q: string) => {
  try {
    logMatcher(q);
    return 'accepted';
  } catch (err) {
    return err instanceof AppError ? `${err.status} ${err.code}` : String(err);
  }
};

describe('a log search query', () => {
  it('is case-insensitive text unless it is /regex/flags', () => {
    expect(logMatcher('Timeout')('upstream TIMEOUT after 3 s')).toBe(true);
    expect(logMatcher('(a+)+b')('(a+)+b in a stack trace')).toBe(true); // text, not a pattern
    expect(logMatcher('/^err(or)?:/')('error: refused')).toBe(true);
    expect(logMatcher('/^err(or)?:/')('an error: refused')).toBe(false);
    expect(logMatcher('/REFUSED/i')('error: refused')).toBe(true);
    expect(logMatcher('/\\d{3} ms$/')('took 250 ms')).toBe(true);
    expect(logMatcher('/(?<code>5\\d\\d)/u')('status 503')).toBe(true);
  });

  it('matches every line the same way, with the g and y flags too', () => {
    for (const flags of ['g', 'y']) {
      const match = logMatcher(`/a/${flags}`);
      expect([match('a'), match('a'), match('ba')], flags).toEqual([true, true, flags === 'g']);
    }
  });

  it('runs a catastrophic pattern in linear time (V8 would backtrack 2^48 times here)', () => {
    const match = logMatcher('/(a+)+b/');
    expect(match('a'.repeat(48))).toBe(false);
    expect(match(`${'a'.repeat(10_000)}!`)).toBe(false);
    expect(logMatcher('/(x+x+)+y/')('x'.repeat(5000))).toBe(false);
  });

  it('refuses what needs backtracking, and what does not parse, each with its own code', () => {
    expect(codeOf('/(a)\\1/')).toBe('400 unsupported_regex');
    expect(codeOf('/(?<q>a)\\k<q>/')).toBe('400 unsupported_regex');
    expect(codeOf('/a(?=b)/')).toBe('400 unsupported_regex');
    expect(codeOf('/a(?!b)/')).toBe('400 unsupported_regex');
    expect(codeOf('/(?<=a)b/')).toBe('400 unsupported_regex');
    expect(codeOf('/(a/')).toBe('400 invalid_regex');
    expect(codeOf('/a/ii')).toBe('400 invalid_regex');
    expect(codeOf('/+/')).toBe('400 invalid_regex');
  });
});
