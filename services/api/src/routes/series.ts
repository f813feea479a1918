import type { z } from 'zod';
import type { SeriesQuerySchema } from '@slipway/contracts/requests';
import { HOUR } from '@slipway/records/traffic-history';
import { AppError } from '../errors';

/** History is kept 7 days; minute points are served for ranges up to 2 days (about 2 900 points). */
export function seriesWindow(q: z.output<typeof SeriesQuerySchema>): { from: number; to: number; step: 'm' | 'h' } {
  if (q.range > 7 * 24 * HOUR) throw new AppError(400, 'bad_request', 'History is kept 7 days: ask for range=7d or less');
  const step = q.step ?? (q.range <= 6 * HOUR ? '1m' : '1h');
  if (step === '1m' && q.range > 48 * HOUR) throw new AppError(400, 'bad_request', 'Minute points go back 2 days at most: use step=1h');
  const to = Date.now();
  return { from: to - q.range, to, step: step === '1m' ? 'm' : 'h' };
}
