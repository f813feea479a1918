/**
 * SLIPWAY_KEEP_VERSIONS: after a successful switch the oldest images of an app beyond the limit are
 * removed, never the running or the previous version's, and only images Slipway labelled. A pruned
 * version keeps its archive, so it can be built again (POST /api/apps/:name/versions/:version/rebuild).
 * Failed versions keep theirs only while a retry could use them (stages/cleanup.ts, dropFailedArchives).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dataPaths } from '@slipway/runtime/config';
import { notify } from '@slipway/records/notify';
import type { WorkerContext } from '../context';
import { imageName } from '@slipway/contracts/names';
import { discardFromRegistry } from '../stages/cleanup';

export async function prune(ctx: WorkerContext, app: string): Promise<string[]> {
  const [record, versions] = await Promise.all([ctx.store.getAppRecord(app), ctx.store.getVersions(app)]);
  const protectedVersions = new Set([record.current, record.previous].filter(Boolean));
  // Newest first by when they last ran (or were built): the running and previous always stay.
  const kept = versions
    .filter((v) => v.state === 'ok')
    .sort((a, b) => (b.deployedAt ?? b.createdAt).localeCompare(a.deployedAt ?? a.createdAt));
  let room = ctx.settings.keepVersions - kept.filter((v) => protectedVersions.has(v.version)).length;
  const pruned: string[] = [];
  for (const version of kept) {
    if (protectedVersions.has(version.version)) continue;
    if (room > 0) {
      room--;
      continue;
    }
    const removed = await ctx.engine.images.removeOwn(imageName(ctx.settings.imagePrefix, app, version.version));
    if (!removed && (await ctx.engine.images.id(imageName(ctx.settings.imagePrefix, app, version.version))) !== null) continue;
    await discardFromRegistry(ctx, app, version.version);
    await ctx.store.putVersion(app, { ...version, state: 'pruned' });
    await rm(path.join(dataPaths(ctx.settings.dataDir).cluster, app, version.version), { recursive: true, force: true });
    pruned.push(version.version);
  }
  if (pruned.length) {
    ctx.log.info({ app, pruned }, 'pruned old versions');
    await notify(ctx.redis, { type: 'app', app, change: 'pruned', message: `Pruned ${pruned.join(', ')} (SLIPWAY_KEEP_VERSIONS=${ctx.settings.keepVersions})` });
  }
  return pruned;
}

