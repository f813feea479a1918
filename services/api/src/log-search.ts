/**
 * A log search's `q`: `/regex/flags`, or case-insensitive text. Regexes run in RE2, whose matching time is
 * linear in the line: V8's backtracking engine takes exponential time on patterns like `/(a+)+b/`, and one
 * such search over a line of 48 `a`s froze the API's event loop for everyone (issue 12, item 3).
 */
import RE2 from 're2';
import { AppError } from './errors';

const REGEX_QUERY = /^\/(.+)\/([gimsuy]*)$/;

export function logMatcher(q: string): (text: string) => boolean {
  const parts = REGEX_QUERY.exec(q);
  if (!parts) {
    const needle = q.toLowerCase();
    return (text) => text.toLowerCase().includes(needle);
  }
  const [, source, flags] = parts as unknown as [string, string, string];
  // V8 parses, never matches, here: it tells a typo from a pattern RE2 cannot run, so each gets its own answer.
  try {
    new RegExp(source, flags);
  } catch (err) {
    throw new AppError(400, 'invalid_regex', `query parameter "q": not a valid regular expression (${(err as Error).message})`);
  }
  let pattern: RE2;
  try {
    pattern = new RE2(source, flags.replace('g', ''));
  } catch (err) {
    throw new AppError(
      400,
      'unsupported_regex',
      `query parameter "q": log search runs regular expressions in linear time, without backreferences or lookaround (${(err as Error).message})`,
    );
  }
  return (text) => {
    pattern.lastIndex = 0; // a sticky (`y`) pattern would otherwise start the next line where this one matched
    return pattern.test(text);
  };
}
