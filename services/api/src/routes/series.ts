import { z } from 'zod';
import { HOUR, MINUTE } from '@slipway/core/traffic';
import { AppError } from '../errors';

const DURATION = /^(\d{1,4})(m|h|d)$/;
const UNIT = { m: MINUTE, h: HOUR, d: 24 * HOUR } as const;

/** `30m`, `24h`, `7d` → milliseconds. */
export const duration = z
  .string()
  .regex(DURATION, 'a duration like 30m, 24h or 7d')
  .transform((s) => {
    const [, n, unit] = DURATION.exec(s)!;
    return Number(n) * UNIT[unit as keyof typeof UNIT];
  });

export const SeriesQuery = z.object({
  range: duration.default(24 * HOUR),
  step: z.enum(['1m', '1h']).optional(),
});

/** History is kept 7 days; minute points are served for ranges up to 2 days (about 2 900 points). */
export function seriesWindow(q: z.output<typeof SeriesQuery>): { from: number; to: number; step: 'm' | 'h' } {
  if (q.range > 7 * 24 * HOUR) throw new AppError(400, 'bad_request', 'History is kept 7 days: ask for range=7d or less');
  const step = q.step ?? (q.range <= 6 * HOUR ? '1m' : '1h');
  if (step === '1m' && q.range > 48 * HOUR) throw new AppError(400, 'bad_request', 'Minute points go back 2 days at most: use step=1h');
  const to = Date.now();
  return { from: to - q.range, to, step: step === '1m' ? 'm' : 'h' };
}
