import type Router from '@koa/router';
import { apiRouter } from './router';
import type { AppAnswer, AppStatsAnswer, AppSummaryAnswer, AppsAnswer, DeletedAnswer, DeployAnswer, OperationAnswer } from '@slipway/contracts/responses';
import { AppSettingsPatchSchema } from '@slipway/contracts/settings';
import { APP_FIELDS, readLatest, readSeries, type Point } from '@slipway/records/metrics';
import { replicasOf } from '@slipway/records/store';
import { isAppName, VERSION_RE } from '@slipway/contracts/names';
import { RollbackBodySchema, SeriesQuerySchema } from '@slipway/contracts/requests';
import { lifecycle, rebuild, restart, rollback, updateSettings } from '../actions';
import { audit } from '../audit';
import { appDetail, appSummary, existingApp, listApps } from '../apps';
import type { ApiContext } from '../context';
import { AppError, notFound } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { body, query } from '../middleware/validate';
import { seriesWindow } from './series';
import type { Principal } from '../auth/accounts';

/** Who asks decides what of the settings they see (webhook URLs whole only for admins). */
const viewerScope = (koa: { state: { principal?: Principal } }) => koa.state.principal?.scope;

export function appRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  const existing = (raw: string | undefined) => existingApp(ctx, raw);

  router.get('/api/apps', async (koa) => {
    koa.body = { apps: await listApps(ctx) } satisfies AppsAnswer;
  });

  router.get('/api/apps/:name', async (koa) => {
    koa.body = { app: await appDetail(ctx, await existing(koa.params.name), viewerScope(koa)) } satisfies AppAnswer;
  });

  // Registers the app (before its first upload) or changes its settings.
  router.put('/api/apps/:name', async (koa) => {
    const name = koa.params.name ?? '';
    if (!isAppName(name)) throw new AppError(422, 'invalid_name', `App name "${name.slice(0, 63)}" is invalid: use 1-63 lowercase letters, digits and dashes`);
    const created = !(await ctx.store.appExists(name));
    const patch = body(koa, AppSettingsPatchSchema);
    await updateSettings(ctx, name, patch);
    // Which settings changed, never their values (env may hold secrets).
    await audit(ctx, koa, { action: created ? 'app.create' : 'app.settings', target: name, details: { fields: Object.keys(patch) } });
    koa.status = created ? 201 : 200;
    koa.body = { app: await appDetail(ctx, name, viewerScope(koa)) } satisfies AppAnswer;
  });

  // The current containers' last sample (taken every SLIPWAY_SAMPLE_S by the worker); byte counters are totals.
  router.get('/api/apps/:name/stats', async (koa) => {
    const name = await existing(koa.params.name);
    const replicas = replicasOf(await ctx.store.getAppRecord(name));
    const [latest, ...each] = await Promise.all([readLatest(ctx.redis, `app:${name}`), ...(replicas.length > 1 ? replicas.map((_, i) => readLatest(ctx.redis, `app:${name}#${i}`)) : [])]);
    koa.body = {
      stats: statsOf(latest ?? null),
      sampledAt: latest?.ts ?? null,
      instances: each.map((point, index) => ({ index, stats: statsOf(point ?? null), sampledAt: point?.ts ?? null })),
    } satisfies AppStatsAnswer;
  });

  // History of the app's container: gauges as means, byte counters as bytes moved per point.
  router.get('/api/apps/:name/stats/series', async (koa) => {
    const name = await existing(koa.params.name);
    const { from, to, step } = seriesWindow(query(koa, SeriesQuerySchema));
    koa.body = { series: await readSeries(ctx.redis, `app:${name}`, from, to, step, APP_FIELDS) };
  });

  router.post('/api/apps/:name/rollback', async (koa) => {
    const name = await existing(koa.params.name);
    const { version } = body(koa, RollbackBodySchema.default({}));
    const deploy = await rollback(ctx, name, version);
    await audit(ctx, koa, { action: 'app.rollback', target: `${name}@${deploy.version}`, details: { deployId: deploy.id } });
    koa.status = 202;
    koa.body = { deploy } satisfies DeployAnswer;
  });

  router.post('/api/apps/:name/restart', async (koa) => {
    const deploy = await restart(ctx, await existing(koa.params.name));
    await audit(ctx, koa, { action: 'app.restart', target: `${deploy.app}@${deploy.version}`, details: { deployId: deploy.id } });
    koa.status = 202;
    koa.body = { deploy } satisfies DeployAnswer;
  });

  router.post('/api/apps/:name/versions/:version/rebuild', async (koa) => {
    const name = await existing(koa.params.name);
    const version = koa.params.version ?? '';
    if (!VERSION_RE.test(version)) throw notFound('version_not_found', 'Not a valid version');
    const deploy = await rebuild(ctx, name, version);
    await audit(ctx, koa, { action: 'app.rebuild', target: `${name}@${version}`, details: { deployId: deploy.id } });
    koa.status = 202;
    koa.body = { deploy } satisfies DeployAnswer;
  });

  for (const action of ['start', 'stop'] as const) {
    router.post(`/api/apps/:name/${action}`, async (koa) => {
      const name = await existing(koa.params.name);
      const { done, id } = await lifecycle(ctx, name, action);
      await audit(ctx, koa, { action: `app.${action}`, target: name });
      koa.status = done ? 200 : 202;
      koa.body = (done ? { app: await appSummary(ctx, name) } : { operation: { id, action, status: 'queued' } }) satisfies AppSummaryAnswer | OperationAnswer;
    });
  }

  // Destructive: the name must be confirmed in the query (?confirm=<name>).
  router.delete('/api/apps/:name', async (koa) => {
    const name = await existing(koa.params.name);
    if (koa.query.confirm !== name) {
      throw new AppError(400, 'confirmation_required', `Deleting removes every container, image, file and record of ${name}: repeat its name as ?confirm=${name}`);
    }
    const removeVolumes = koa.query.volumes === 'true';
    const { done, id } = await lifecycle(ctx, name, 'delete', { removeVolumes });
    await audit(ctx, koa, { action: 'app.delete', target: name, details: { volumes: removeVolumes ? 'removed' : 'kept' } });
    koa.status = done ? 200 : 202;
    koa.body = (done ? { deleted: name } : { operation: { id, action: 'delete', status: 'queued' } }) satisfies DeletedAnswer | OperationAnswer;
  });

  return router;
}

/** A latest sample as the stats answer gives it: byte counts are the totals since the container started. */
function statsOf(latest: Point | null): AppStatsAnswer['stats'] {
  if (!latest) return null;
  const n = (field: string) => (typeof latest[field] === 'number' ? (latest[field] as number) : 0);
  return {
    cpuPercent: n('cpuPercent'),
    memoryBytes: n('memoryBytes'),
    memoryLimitBytes: n('memoryLimitBytes'),
    netRxBytes: n('netRxTotalBytes'),
    netTxBytes: n('netTxTotalBytes'),
    blockReadBytes: n('blockReadTotalBytes'),
    blockWriteBytes: n('blockWriteTotalBytes'),
    pids: n('pids'),
  };
}
