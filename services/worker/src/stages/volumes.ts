/**
 * The app's volumes (issue 16, SPEC §3 "Volumes"): each `volumes` path of its settings is a named volume
 * `slipway-<app>-<slug>`, made at the first start that needs it and mounted into every version after.
 * Which name each path got is recorded, so the API can list them without asking the engine.
 */
import type { Redis } from 'ioredis';
import type { AppSettings } from '@slipway/contracts/settings';
import { volumeName } from '@slipway/contracts/volumes';
import { keys } from '@slipway/records/redis';
import type { Engine } from '../docker/engine';
import { EngineError } from '../docker/engine';
import { LABEL } from '../docker/labels';
import { PipelineError } from '../errors';

export type Mount = { volume: string; path: string };

export async function appVolumes(deps: { engine: Engine; redis: Redis }, app: string, instance: string, settings: AppSettings): Promise<Mount[]> {
  const mounts: Mount[] = [];
  for (const { path } of settings.volumes) {
    try {
      mounts.push({ volume: await ensureVolume(deps.engine, app, path, instance), path });
    } catch (err) {
      if (err instanceof PipelineError) throw err;
      throw new PipelineError('start_failed', (err as Error).message, err instanceof EngineError);
    }
  }
  if (mounts.length) await deps.redis.hset(keys.appVolumes(app), Object.fromEntries(mounts.map((m) => [m.path, m.volume])));
  return mounts;
}

/**
 * The plain name when it is free or ours; the installation's own name when another Slipway (or the user)
 * holds the plain one. The installation's name is looked at first, so a volume never changes name (and
 * loses its files) because the other one went away.
 */
async function ensureVolume(engine: Engine, app: string, path: string, instance: string): Promise<string> {
  const labels = { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.app]: app, 'io.slipway.volume-path': path };
  const mine = (v: { labels: Record<string, string> } | null) => v !== null && v.labels[LABEL.app] === app && v.labels[LABEL.instance] === instance;
  const own = volumeName(app, path, instance);
  if (mine(await engine.volumes.inspect(own))) return own;
  const plain = volumeName(app, path);
  const existing = await engine.volumes.inspect(plain);
  if (mine(existing)) return plain;
  const name = existing ? own : plain;
  await engine.volumes.create(name, labels);
  return name;
}
