/**
 * Sizes of the installation's volumes (issue 16): measured with the engine's disk-usage count about once a
 * minute (it walks every volume, so not more often) and after a restore, for `GET /api/apps/:name/volumes`.
 */
import { keys } from '@slipway/records/redis';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';

export const MEASURE_EVERY_MS = 60_000;

export async function measureVolumes(ctx: Pick<WorkerContext, 'engine' | 'redis'>): Promise<number> {
  // The disk-usage count is the engine's heaviest call: not made while this installation has no volume.
  const ours = await ctx.engine.volumes.list({ [LABEL.managed]: 'true' });
  const sizes = ours.length ? await ctx.engine.volumes.sizes() : new Map<string, number>();
  const measuredAt = new Date().toISOString();
  const tx = ctx.redis.multi().del(keys.volumeSizes);
  if (sizes.size) tx.hset(keys.volumeSizes, Object.fromEntries([...sizes].map(([name, bytes]) => [name, JSON.stringify({ bytes, measuredAt })])));
  await tx.exec();
  return sizes.size;
}
