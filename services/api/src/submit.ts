/**
 * Accepting an upload: identify it, reserve its version, keep the archive, and queue the deploy.
 * Every failure before the 202 leaves nothing behind: the upload is deleted and the reservation released.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Deploy } from '@slipway/contracts/deploy';
import { dataPaths } from '@slipway/runtime/config';
import { enqueueDeploy } from '@slipway/records/enqueue';
import { newDeployId } from '@slipway/records/ids';
import { keys } from '@slipway/records/redis';
import type { ApiContext } from './context';
import { conflict } from './errors';
import { identifyUpload } from './uploads/identify';
import type { StoredUpload } from './uploads/receive';
import { imageName } from '@slipway/contracts/names';

const EXTENSIONS = { tar: '.tar', 'tar.gz': '.tar.gz', zip: '.zip' } as const;

export async function submitDeploy(ctx: ApiContext, upload: StoredUpload, form: { app?: string; version?: string }): Promise<Deploy> {
  let reserved: Reservation | null = null;
  try {
    const { format, app, version } = await identifyUpload(upload, form);
    const deployId = newDeployId();
    const createdAt = new Date().toISOString();
    const archivePath = path.join(dataPaths(ctx.settings.dataDir).archives, app, `${version}-${deployId}${EXTENSIONS[format]}`);
    const image = imageName(ctx.settings.imagePrefix, app, version);

    const ok = await ctx.store.reserveVersion({ app, version, image, deployId, state: 'pending', createdAt, archivePath });
    if (!ok) throw conflict('version_exists', `${app} ${version} exists already: versions are immutable, upload it under a new version`);
    reserved = { app, version, deployId, archivePath };

    await mkdir(path.dirname(archivePath), { recursive: true });
    await rename(upload.path, archivePath);
    const deploy = await enqueueDeploy(
      enqueueContext(ctx),
      { id: deployId, app, version, kind: 'deploy', trigger: 'user', archive: { fileName: upload.originalname.slice(0, 255), bytes: upload.size }, createdAt },
      { kind: 'deploy', archivePath },
    );
    ctx.log.info({ deployId, app, version, bytes: upload.size, sha256: upload.sha256 }, 'deploy queued');
    return deploy;
  } catch (err) {
    await rm(upload.path, { force: true });
    if (reserved) await undoReservation(ctx, reserved, err);
    throw err;
  }
}

/** A pruned version built again from the archive Slipway kept of it. */
export async function rebuildVersion(ctx: ApiContext, app: string, version: string, archivePath: string): Promise<Deploy | null> {
  const deployId = newDeployId();
  const createdAt = new Date().toISOString();
  const image = imageName(ctx.settings.imagePrefix, app, version);
  const ok = await ctx.store.reserveVersion({ app, version, image, deployId, state: 'pending', createdAt, archivePath }, { rebuild: true });
  if (!ok) return null;
  try {
    return await enqueueDeploy(enqueueContext(ctx), { id: deployId, app, version, kind: 'deploy', trigger: 'user', createdAt }, { kind: 'deploy', archivePath });
  } catch (err) {
    await undoReservation(ctx, { app, version, deployId, archivePath: null }, err);
    throw err;
  }
}

export function enqueueContext(ctx: ApiContext) {
  return { redis: ctx.redis, store: ctx.store, queue: ctx.queue, imagePrefix: ctx.settings.imagePrefix };
}

interface Reservation {
  app: string;
  version: string;
  deployId: string;
  /** The archive this attempt stored (removed again), null when it reuses a kept one. */
  archivePath: string | null;
}

async function undoReservation(ctx: ApiContext, { app, version, deployId, archivePath }: Reservation, cause: unknown): Promise<void> {
  // Best effort: Redis may be the reason we are here.
  await Promise.allSettled([
    archivePath ? rm(archivePath, { force: true }) : Promise.resolve(),
    ctx.store.settleVersion(app, version, deployId, 'failed'),
    ctx.redis.lrem(keys.appLine(app), 0, deployId),
    ctx.store.getDeploy(deployId).then((d) =>
      d
        ? ctx.store.updateDeploy(deployId, {
            status: 'failed',
            finishedAt: new Date().toISOString(),
            error: { code: 'internal', message: `Could not queue the deploy: ${(cause as Error).message}` },
          })
        : null,
    ),
  ]);
}
