/**
 * An app's volumes (issue 16, SPEC §4): listed with their sizes, downloaded as a `.tar.gz` of their files,
 * restored from one. The worker does the engine's part in the app's line (it holds the Docker socket; the
 * API does not); a download is written under the data dir, sent, then deleted.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type Router from '@koa/router';
import type { OperationAnswer, VolumeAnswer, VolumesAnswer } from '@slipway/contracts/responses';
import type { VolumeInfo } from '@slipway/contracts/volumes';
import { dataPaths } from '@slipway/runtime/config';
import { lifecycle } from '../actions';
import { audit } from '../audit';
import { existingApp } from '../apps';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { receiveArchive, storedArchive, uploadSlot } from '../uploads/receive';
import { apiRouter } from './router';

/** A volume's files may be large: the request waits this long for the worker before answering 202. */
const VOLUME_WAIT_MS = 10 * 60_000;

export function volumeRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  const appOf = (raw: string | undefined) => existingApp(ctx, raw);
  /** The app's volume of that name, as the list shows it. */
  const volumeOf = async (app: string, raw: string | undefined): Promise<VolumeInfo> => {
    const volume = (await ctx.store.listVolumes(app)).find((v) => v.name === raw);
    if (!volume) throw notFound('volume_not_found', `${app} has no volume named "${(raw ?? '').slice(0, 100)}"; GET /api/apps/${app}/volumes lists them`);
    return volume;
  };

  router.get('/api/apps/:name/volumes', async (koa) => {
    koa.body = { volumes: await ctx.store.listVolumes(await appOf(koa.params.name)) } satisfies VolumesAnswer;
  });

  router.get('/api/apps/:name/volumes/:volume/archive', async (koa) => {
    const app = await appOf(koa.params.name);
    const volume = await volumeOf(app, koa.params.volume);
    const { done, id, file } = await lifecycle(ctx, app, 'volume-export', { volumePath: volume.path, waitMs: VOLUME_WAIT_MS });
    await audit(ctx, koa, { action: 'volume.download', target: `${app}:${volume.path}` });
    if (!done || !file) {
      koa.status = 202;
      koa.body = { operation: { id, action: 'volume-export', status: 'queued' } } satisfies OperationAnswer;
      return;
    }
    // Only a file the worker wrote where exports go is sent (the op record is only as trustworthy as Redis).
    if (path.dirname(path.resolve(file)) !== path.resolve(dataPaths(ctx.settings.dataDir).exports)) throw notFound('volume_not_found', 'The export was not found');
    const stream = createReadStream(file);
    stream.on('close', () => void rm(file, { force: true }));
    koa.set('Content-Disposition', `attachment; filename="${volume.name}.tar.gz"`);
    koa.type = 'application/gzip';
    koa.body = stream;
  });

  router.put(
    '/api/apps/:name/volumes/:volume/archive',
    uploadSlot(),
    async (koa, next) => {
      // Before the upload is read: a request for a volume that does not exist stores nothing.
      koa.state.volume = await volumeOf(await appOf(koa.params.name), koa.params.volume);
      await next();
    },
    receiveArchive({ uploadsDir: dataPaths(ctx.settings.dataDir).uploads, maxBytes: ctx.settings.maxUploadBytes }),
    async (koa) => {
      const app = koa.params.name!;
      const volume = koa.state.volume as VolumeInfo;
      const file = storedArchive(koa);
      let result;
      try {
        result = await lifecycle(ctx, app, 'volume-restore', { volumePath: volume.path, file: file.path, waitMs: VOLUME_WAIT_MS });
      } catch (err) {
        await rm(file.path, { force: true });
        throw err;
      }
      await audit(ctx, koa, { action: 'volume.restore', target: `${app}:${volume.path}`, details: { bytes: file.size } });
      if (!result.done) {
        koa.status = 202;
        koa.body = { operation: { id: result.id, action: 'volume-restore', status: 'queued' } } satisfies OperationAnswer;
        return;
      }
      koa.body = { volume: await volumeOf(app, volume.name) } satisfies VolumeAnswer;
    },
  );

  return router;
}
