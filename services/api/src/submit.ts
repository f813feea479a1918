/**
 * Accepting an upload: identify it, reserve its version, keep the archive, record the deploy and queue it.
 * Every failure before the 202 leaves nothing behind: the upload is deleted and the reservation released.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Deploy } from '@slipway/contracts/deploy';
import { dataPaths } from '@slipway/core/config';
import { appendEvents } from '@slipway/core/events';
import { newDeployId } from '@slipway/core/ids';
import { deployJobOptions } from '@slipway/core/queue';
import { keys } from '@slipway/core/redis';
import type { ApiContext } from './context';
import { conflict } from './errors';
import { identifyUpload } from './uploads/identify';
import type { StoredUpload } from './uploads/receive';

const EXTENSIONS = { tar: '.tar', 'tar.gz': '.tar.gz', zip: '.zip' } as const;

export async function submitDeploy(
  ctx: ApiContext,
  upload: StoredUpload,
  form: { app?: string; version?: string },
): Promise<Deploy> {
  let reserved: { app: string; version: string; deployId: string } | null = null;
  let archivePath: string | null = null;
  try {
    const { format, app, version } = await identifyUpload(upload, form);
    const deployId = newDeployId();
    const createdAt = new Date().toISOString();
    const image = `${ctx.settings.imagePrefix}${app}:${version}`;

    const ok = await ctx.store.reserveVersion({ app, version, image, deployId, state: 'pending', createdAt });
    if (!ok) {
      throw conflict('version_exists', `${app} ${version} exists already: versions are immutable, upload it under a new version`);
    }
    reserved = { app, version, deployId };

    const dir = path.join(dataPaths(ctx.settings.dataDir).archives, app);
    await mkdir(dir, { recursive: true });
    archivePath = path.join(dir, `${version}-${deployId}${EXTENSIONS[format]}`);
    await rename(upload.path, archivePath);

    const deploy: Deploy = {
      id: deployId,
      app,
      version,
      kind: 'deploy',
      status: 'queued',
      stage: 'queued',
      progress: 0,
      image,
      archive: { fileName: upload.originalname.slice(0, 255), bytes: upload.size },
      createdAt,
    };
    await ctx.store.createDeploy(deploy);
    await appendEvents(ctx.redis, deployId, [{ type: 'stage', stage: 'queued', progress: 0 }]);
    // Join the app's line before the job exists, so the worker never sees a job that is not in line.
    await ctx.redis.rpush(keys.appLine(app), deployId);
    await ctx.queue.add('deploy', { kind: 'deploy', deployId, app, version, archivePath }, deployJobOptions(deployId));
    ctx.log.info({ deployId, app, version, bytes: upload.size, sha256: upload.sha256 }, 'deploy queued');
    return deploy;
  } catch (err) {
    await rm(upload.path, { force: true });
    if (reserved) await undoReservation(ctx, reserved, archivePath, err);
    throw err;
  }
}

async function undoReservation(
  ctx: ApiContext,
  { app, version, deployId }: { app: string; version: string; deployId: string },
  archivePath: string | null,
  cause: unknown,
): Promise<void> {
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
