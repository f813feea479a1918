import { rm } from 'node:fs/promises';
import type Router from '@koa/router';
import { apiRouter } from './router';
import type { DeployAnswer, DeploysAnswer } from '@slipway/contracts/responses';
import { isTerminal } from '@slipway/contracts/deploy';
import { DeployFormFieldsSchema, DeployListQuerySchema } from '@slipway/contracts/requests';
import { readEvents, streamIdAfter, type StoredEvent } from '@slipway/records/events';
import { DEPLOY_ID_RE } from '@slipway/records/ids';
import { dataPaths } from '@slipway/runtime/config';
import type { ApiContext } from '../context';
import { notFound } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { body, query } from '../middleware/validate';
import { cancelDeploy, retryDeploy } from '../actions';
import { audit } from '../audit';
import { receiveArchive, storedArchive, uploadSlot } from '../uploads/receive';
import { submitDeploy } from '../submit';

export function deployRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  const { store } = ctx;
  router.use(requireRedis(ctx.redis));

  router.post('/api/deploys',
    uploadSlot(),
    receiveArchive({ uploadsDir: uploadsDir(ctx), maxBytes: ctx.settings.maxUploadBytes }),
    async (koa) => {
      const file = storedArchive(koa);
      // The fields multer parsed beside the archive; refused, they take the stored archive with them.
      let form;
      try {
        form = body(koa, DeployFormFieldsSchema);
      } catch (err) {
        await rm(file.path, { force: true });
        throw err;
      }
      const deploy = await submitDeploy(ctx, file, form);
      await audit(ctx, koa, { action: 'deploy.create', target: `${deploy.app}@${deploy.version}`, details: { deployId: deploy.id, bytes: file.size } });
      koa.status = 202;
      koa.set('Location', `/api/deploys/${deploy.id}`);
      koa.body = { deploy } satisfies DeployAnswer;
    },
  );

  router.post('/api/deploys/:id/retry', async (koa) => {
    const deploy = await retryDeploy(ctx, koa.params.id ?? '');
    await audit(ctx, koa, { action: 'deploy.retry', target: `${deploy.app}@${deploy.version}`, details: { deployId: deploy.id, of: koa.params.id } });
    koa.status = 202;
    koa.body = { deploy } satisfies DeployAnswer;
  });

  router.post('/api/deploys/:id/cancel', async (koa) => {
    const deploy = await cancelDeploy(ctx, koa.params.id ?? '');
    await audit(ctx, koa, { action: 'deploy.cancel', target: `${deploy.app}@${deploy.version}`, details: { deployId: deploy.id } });
    koa.body = { deploy } satisfies DeployAnswer;
  });

  router.get('/api/deploys', async (koa) => {
    const { app, limit } = query(koa, DeployListQuerySchema);
    koa.body = { deploys: await store.listDeploys({ app, limit }) } satisfies DeploysAnswer;
  });

  router.get('/api/deploys/:id', async (koa) => {
    koa.body = { deploy: await findDeploy(ctx, koa.params.id ?? '') } satisfies DeployAnswer;
  });

  router.get('/api/deploys/:id/events', async (koa) => {
    const deploy = await findDeploy(ctx, koa.params.id ?? '');
    const sse = ctx.sse.open(koa);
    let lastId = koa.get('last-event-id') || '0-0';
    let replaying = true;
    const held: StoredEvent[] = [];

    const deliver = (stored: StoredEvent) => {
      if (!streamIdAfter(stored.id, lastId)) return;
      lastId = stored.id;
      const { type, ...data } = stored.event;
      sse.send(type, data, stored.id);
      if (type === 'done') sse.close();
    };
    // Listen before replaying, then drop what the replay already sent: no gap, no duplicate.
    sse.onClose(
      ctx.hub.onDeploy(deploy.id, (event) => {
        if (replaying) held.push(event);
        else deliver(event);
      }),
    );
    for (const event of await readEvents(ctx.redis, deploy.id)) deliver(event);
    replaying = false;
    for (const event of held.splice(0)) deliver(event);

    // A finished deploy whose events have expired still ends the stream with its outcome.
    if (!sse.closed && isTerminal(deploy.status)) {
      const latest = await store.getDeploy(deploy.id);
      sse.send('done', { deploy: latest ?? deploy });
      sse.close();
    }
  });

  return router;
}

async function findDeploy(ctx: ApiContext, id: string) {
  const deploy = DEPLOY_ID_RE.test(id) ? await ctx.store.getDeploy(id) : null;
  if (!deploy) throw notFound('deploy_not_found', `No deploy with id "${id.slice(0, 40)}"`);
  return deploy;
}

function uploadsDir(ctx: ApiContext): string {
  return dataPaths(ctx.settings.dataDir).uploads;
}
