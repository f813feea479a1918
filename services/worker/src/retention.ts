/**
 * SLIPWAY_KEEP_VERSIONS: after a successful switch the oldest images of an app beyond the limit are
 * removed, never the running or the previous version's, and only images Slipway labelled. A pruned
 * version keeps its archive, so it can be built again (POST /api/apps/:name/versions/:version/rebuild).
 * Failed versions keep theirs only while a retry could use them (see dropFailedArchives).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dataPaths } from '@slipway/core/config';
import { notify } from '@slipway/core/notify';
import type { WorkerContext } from './context';
import { confinedArchive } from './job-paths';
import { imageName } from '@slipway/contracts/names';

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
    const removed = await ctx.engine.removeOwnImage(imageName(ctx.settings.imagePrefix, app, version.version));
    if (!removed && (await ctx.engine.imageExists(imageName(ctx.settings.imagePrefix, app, version.version)))) continue;
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

/** Failures no retry of the same archive can get past: the unpack refused what it is. */
const ARCHIVE_REFUSED = new Set(['corrupt_archive', 'unsafe_archive', 'archive_too_large', 'empty_archive', 'unsupported_archive']);
/** Failed versions per app whose archives stay for POST /api/deploys/:id/retry. */
export const KEEP_FAILED_ARCHIVES = 3;

/**
 * Without this, every failed upload would stay on the data disk for good. A refused archive goes at once;
 * of the rest, the newest few stay so a failure from a passing cause (the engine, a flaky install) can be retried.
 */
export async function dropFailedArchives(ctx: WorkerContext, app: string, failed: { version: string; code: string }): Promise<void> {
  const withArchive = (await ctx.store.getVersions(app)).filter((v) => v.state === 'failed' && v.archivePath); // newest first
  const drop = withArchive.filter((v, i) => i >= KEEP_FAILED_ARCHIVES || (v.version === failed.version && ARCHIVE_REFUSED.has(failed.code)));
  for (const version of drop) {
    if (!(await ctx.store.forgetFailedArchive(app, version.version, version.deployId))) continue;
    // The record is only as trustworthy as Redis: delete nothing outside the archive folders.
    const file = await confinedArchive(ctx.settings.dataDir, version.archivePath!).catch(() => null);
    if (file) await rm(file, { force: true });
  }
}
