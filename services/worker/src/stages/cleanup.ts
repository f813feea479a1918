/**
 * Every discard of the pipeline, in one place: a failed candidate, what an interrupted attempt left, a
 * version that never ran, the archives no retry can use, an app's containers. Containers and images are
 * proven ours by their labels, files by where they land (under the data dir's folders), before they go.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dataPaths } from '@slipway/runtime/config';
import { imageName } from '@slipway/contracts/names';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';
import { deleteTag, registryLogin } from '../docker/registry';
import { PipelineError } from '../errors';
import { confinedArchive } from '../jobs/job-paths';
import type { Target } from '../runners/runner';
import { replicasOf } from '@slipway/records/store';

/** Removes a failed candidate; the error gains its last 50 log lines (SPEC §3). */
export async function discardCandidate(ctx: WorkerContext, containerId: string, err: unknown): Promise<unknown> {
  const logs = await ctx.engine.streams.tailLogs(containerId, 50);
  await ctx.engine.containers.remove(containerId).catch((e: Error) => ctx.log.warn({ err: e.message }, 'could not remove candidate'));
  if (err instanceof PipelineError) return new PipelineError(err.code, err.message, err.retryable, logs);
  return err;
}

/**
 * Containers this deploy created that are not the app's current one: a candidate left by a crash or by
 * the failed attempt. Proven ours by the deploy label.
 */
export async function removeLeftovers(ctx: WorkerContext, target: Target): Promise<void> {
  const current = new Set(replicasOf(await ctx.store.getAppRecord(target.app)).map((r) => r.containerId));
  for (const container of await ctx.engine.containers.list({ [LABEL.deploy]: target.deployId })) {
    if (!current.has(container.id)) await ctx.engine.containers.remove(container.id);
  }
}

/** Every container of the app, stopped with its grace period first. */
export async function removeContainers(ctx: WorkerContext, app: string): Promise<void> {
  for (const container of await ctx.engine.containers.list({ [LABEL.app]: app })) {
    await ctx.engine.containers.stopAndRemove(container.id, ctx.settings.stopGraceS);
  }
}

/** A version that never ran leaves no image and no unpacked tree. */
export async function discardVersion(ctx: WorkerContext, target: Target): Promise<void> {
  const current = await ctx.store.getAppRecord(target.app);
  if (current.current === target.version) return;
  await discardFromRegistry(ctx, target.app, target.version);
  await ctx.engine.images
    .removeOwn(imageName(ctx.settings.imagePrefix, target.app, target.version))
    .catch((err: Error) => ctx.log.warn({ app: target.app, version: target.version, err: err.message }, 'could not remove the image of a failed version'));
  await rm(path.join(dataPaths(ctx.settings.dataDir).cluster, target.app, target.version), { recursive: true, force: true });
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

/**
 * Under Swarm, the registry's copy goes with the local image (a pruned version, a failed one): the tag is
 * deleted (the registry's garbage collection, run by its operator, frees the layers). A registry that
 * forbids deletion keeps it, and the log says so.
 */
export async function discardFromRegistry(ctx: WorkerContext, app: string, version: string): Promise<void> {
  if (ctx.settings.orchestrator !== 'swarm' || !ctx.settings.registry) return;
  const local = imageName(ctx.settings.imagePrefix, app, version);
  const at = local.lastIndexOf(':');
  // The local alias the push made goes too, or it would keep the image's layers on this node.
  await ctx.engine.images.removeOwn(`${ctx.settings.registry}/${local}`).catch(() => false);
  const result = await deleteTag(ctx.settings.registry, local.slice(0, at), local.slice(at + 1), registryLogin(ctx.settings)).catch((err: Error) => ({ removed: false, reason: err.message }));
  if (!result.removed && result.reason !== 'not in the registry') ctx.log.warn({ app, version, reason: result.reason }, 'could not remove the version from the registry');
}
