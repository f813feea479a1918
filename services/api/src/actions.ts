/**
 * What users do to an app besides uploading: settings, rollback, restart, start/stop, delete, rebuild.
 * Checks that only records can answer happen here (404/409 at once); the work itself is queued in the
 * app's line, so it never races a deploy.
 */
import { existsSync } from 'node:fs';
import type { Deploy } from '@slipway/contracts/deploy';
import { redactUrl } from '@slipway/contracts/secrets';
import { AppSettingsSchema, MaskedValueError, restoreMasked, type AppSettings, type AppSettingsPatch } from '@slipway/contracts/settings';
import { enqueueDeploy, enqueueLifecycle, getOp, type LifecycleAction, type LifecycleOptions } from '@slipway/records/enqueue';
import { appendEvents } from '@slipway/records/events';
import { newDeployId } from '@slipway/records/ids';
import { keys } from '@slipway/records/redis';
import { notify } from '@slipway/records/notify';
import { refusedTarget } from '@slipway/runtime/webhook-target';
import { isUnderSuffix } from '@slipway/contracts/domains';
import { claimDomains, setHttpsRedirect } from '@slipway/records/domains';
import type { ApiContext } from './context';
import { AppError, badRequest, conflict, notFound } from './errors';
import { enqueueContext, rebuildVersion } from './submit';

export async function updateSettings(ctx: ApiContext, app: string, patch: AppSettingsPatch): Promise<AppSettings> {
  const before = await ctx.store.getSettings(app);
  let env = before.env;
  try {
    if (patch.env) env = restoreMasked(patch.env, before.env);
  } catch (err) {
    if (err instanceof MaskedValueError) throw badRequest(err.message);
    throw err;
  }
  if (patch.webhooks && !ctx.settings.webhookAllowPrivate) {
    for (const [i, url] of patch.webhooks.entries()) {
      const why = refusedTarget(url);
      if (why) {
        throw badRequest(`webhooks[${i}] (${redactUrl(url)}) is refused: ${why}. Webhooks go to public addresses only, unless SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true`, 'webhook_target_refused');
      }
    }
  }
  if (patch.domains) {
    const ours = patch.domains.find((d) => isUnderSuffix(d, ctx.settings.domain));
    if (ours) throw badRequest(`domains: ${ours} is under SLIPWAY_DOMAIN (${ctx.settings.domain}), where every app already answers as <app>.${ctx.settings.domain}; name a domain of your own`);
    const taken = await claimDomains(ctx.redis, app, patch.domains);
    if (taken) throw conflict('domain_taken', `${taken.domain} already belongs to the app ${taken.owner}; remove it there first`);
  }
  const next = AppSettingsSchema.parse({ ...before, ...patch, env });
  await ctx.store.putSettings(app, next);
  if (patch.httpsRedirect !== undefined) await setHttpsRedirect(ctx.redis, app, patch.httpsRedirect);
  await notify(ctx.redis, { type: 'app', app, change: 'settings', message: 'Settings changed; they apply from the next deploy, rollback or restart' });
  ctx.log.info({ app, changed: Object.keys(patch) }, 'settings changed');
  return next;
}

export async function rollback(ctx: ApiContext, app: string, requested: string | undefined): Promise<Deploy> {
  const record = await ctx.store.getAppRecord(app);
  const version = requested ?? record.previous;
  if (!version) throw notFound('version_not_found', `${app} has no previous version to roll back to; name one: {"version":"…"}`);
  const target = await ctx.store.getVersion(app, version);
  if (!target || target.state === 'pending' || target.state === 'failed') {
    throw notFound('version_not_found', `${app} has no version ${version} that ran successfully`);
  }
  if (target.state === 'pruned') {
    throw conflict(
      'image_pruned',
      `The image of ${app} ${version} was pruned (SLIPWAY_KEEP_VERSIONS); build it again from its kept archive with POST /api/apps/${app}/versions/${version}/rebuild`,
    );
  }
  if (record.current === version && record.status !== 'stopped') throw conflict('already_running', `${app} ${version} is already running`);
  return enqueueDeploy(enqueueContext(ctx), { id: newDeployId(), app, version, kind: 'rollback', trigger: 'user' }, { kind: 'rollback' });
}

export async function restart(ctx: ApiContext, app: string): Promise<Deploy> {
  const record = await ctx.store.getAppRecord(app);
  if (!record.current) throw conflict('not_running', `${app} has no version to restart; deploy one first`);
  return enqueueDeploy(enqueueContext(ctx), { id: newDeployId(), app, version: record.current, kind: 'restart', trigger: 'user' }, { kind: 'restart' });
}

export async function rebuild(ctx: ApiContext, app: string, version: string): Promise<Deploy> {
  const target = await ctx.store.getVersion(app, version);
  if (!target?.archivePath) throw notFound('version_not_found', `${app} has no kept archive of version ${version}`);
  if (target.state !== 'pruned') throw conflict('version_exists', `${app} ${version} is not pruned (it is ${target.state}); nothing to rebuild`);
  const deploy = await rebuildVersion(ctx, app, version, target.archivePath);
  if (!deploy) throw conflict('version_exists', `${app} ${version} is being deployed already`);
  return deploy;
}

/** A failed deploy, rollback or restart queued again as it was (an upload from its kept archive). */
export async function retryDeploy(ctx: ApiContext, id: string): Promise<Deploy> {
  const failed = await ctx.store.getDeploy(id);
  if (!failed) throw notFound('deploy_not_found', `No deploy with id "${id.slice(0, 40)}"`);
  if (failed.status !== 'failed') throw conflict('already_running', `Only a failed deploy can be retried; this one is ${failed.status}`);
  if (failed.kind === 'rollback') return rollback(ctx, failed.app, failed.version);
  if (failed.kind === 'restart') return restart(ctx, failed.app);
  const version = await ctx.store.getVersion(failed.app, failed.version);
  if (!version?.archivePath || !existsSync(version.archivePath)) {
    throw conflict('version_not_found', `The archive of ${failed.app} ${failed.version} is no longer kept; upload it again`);
  }
  const deployId = newDeployId();
  const ok = await ctx.store.reserveVersion({ ...version, app: failed.app, deployId, state: 'pending', createdAt: new Date().toISOString() });
  if (!ok) throw conflict('version_exists', `${failed.app} ${failed.version} exists or is being deployed already`);
  return enqueueDeploy(enqueueContext(ctx), { id: deployId, app: failed.app, version: failed.version, kind: 'deploy', trigger: 'user', archive: failed.archive }, { kind: 'deploy', archivePath: version.archivePath });
}

/** A deploy still waiting in the queue is taken out; one already running is not interrupted. */
export async function cancelDeploy(ctx: ApiContext, id: string): Promise<Deploy> {
  const deploy = await ctx.store.getDeploy(id);
  if (!deploy) throw notFound('deploy_not_found', `No deploy with id "${id.slice(0, 40)}"`);
  const job = await ctx.queue.getJob(id);
  const state = job ? await job.getState() : 'unknown';
  if (deploy.status !== 'queued' || state === 'active') throw conflict('already_running', `Only a waiting deploy can be cancelled; this one is ${deploy.status}`);
  await job?.remove().catch(() => {
    throw conflict('already_running', 'The deploy started meanwhile; it can no longer be cancelled');
  });
  const cancelled = await ctx.store.updateDeploy(id, { status: 'failed', finishedAt: new Date().toISOString(), error: { code: 'cancelled', message: 'Cancelled before it started' } });
  if (deploy.kind === 'deploy') await ctx.store.settleVersion(deploy.app, deploy.version, id, 'failed');
  await ctx.redis.lrem(keys.appLine(deploy.app), 0, id);
  await appendEvents(ctx.redis, id, [{ type: 'done', deploy: cancelled }]);
  await notify(ctx.redis, { type: 'deploy', deploy: cancelled });
  return cancelled;
}

/** Waits for the worker to carry the action out (they take seconds); a slow one answers 202 with its id. */
export async function lifecycle(
  ctx: ApiContext,
  app: string,
  action: LifecycleAction,
  { waitMs = 60_000, ...options }: LifecycleOptions & { waitMs?: number } = {},
): Promise<{ done: boolean; id: string; file?: string }> {
  const id = await enqueueLifecycle(enqueueContext(ctx), app, action, options);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const op = await getOp(ctx.redis, id);
    if (op?.status === 'succeeded') return { done: true, id, ...(op.file ? { file: op.file } : {}) };
    if (op?.status === 'failed' && op.error) throw new AppError(op.error.status, op.error.code as never, op.error.message);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { done: false, id };
}
