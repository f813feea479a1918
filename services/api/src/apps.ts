/** The apps as users see them: Slipway's records shaped into the HTTP contract (SPEC §4). */
import type { AppDetail, AppSummary, AppVersion } from '@slipway/contracts/app';
import type { Scope } from '@slipway/contracts/auth';
import { maskSettings } from '@slipway/contracts/settings';
import { replicasOf, type AppRecord, type VersionRecord } from '@slipway/records/store';
import { isAppName } from '@slipway/contracts/names';
import type { ApiContext } from './context';
import { notFound } from './errors';

export async function listApps(ctx: ApiContext): Promise<AppSummary[]> {
  const names = await ctx.store.listAppNames();
  return Promise.all(names.map((name) => appSummary(ctx, name)));
}

export async function appSummary(ctx: ApiContext, name: string): Promise<AppSummary> {
  const [record, versions] = await Promise.all([ctx.store.getAppRecord(name), ctx.store.getVersions(name)]);
  return { name, current: current(ctx, name, record), versions: versions.map((v) => versionView(v, record)) };
}

export async function appDetail(ctx: ApiContext, name: string, scope: Scope | undefined): Promise<AppDetail> {
  const [summary, settings, deploys] = await Promise.all([
    appSummary(ctx, name),
    ctx.store.getSettings(name),
    ctx.store.listDeploys({ app: name, limit: 20 }),
  ]);
  return { ...summary, settings: maskSettings(settings, { scope }), deploys };
}

/** The stable address of an app: through the gateway, whatever port its container has now. */
export function appUrl(ctx: ApiContext, name: string): string {
  return `http://${name}.${ctx.settings.domain}:${ctx.settings.gatewayPort}/`;
}

function current(ctx: ApiContext, name: string, record: AppRecord): AppSummary['current'] {
  if (!record.current || !record.port) return null;
  return {
    version: record.current,
    port: record.port,
    url: appUrl(ctx, name),
    status: record.status === 'stopped' ? 'stopped' : 'running',
    startedAt: record.startedAt ?? '',
    instances: replicasOf(record).map((r, index) => ({ index, port: r.port, containerId: r.containerId.slice(0, 12), ...(r.node ? { node: r.node } : {}) })),
  };
}

function versionView(v: VersionRecord, record: AppRecord): AppVersion {
  const status: AppVersion['status'] =
    v.state === 'pending' || v.state === 'failed' || v.state === 'pruned'
      ? v.state
      : v.version === record.current
        ? 'running'
        : v.version === record.previous
          ? 'previous'
          : 'kept';
  return {
    version: v.version,
    image: v.image,
    createdAt: v.createdAt,
    ...(v.deployedAt ? { deployedAt: v.deployedAt } : {}),
    status,
    deployId: v.deployId,
    ...(v.kind ? { kind: v.kind } : {}),
    ...(v.site ? { site: v.site } : {}),
  };
}

/** The app named in a path, which must exist: else `404 app_not_found` (a PUT creates it instead). */
export async function existingApp(ctx: ApiContext, raw: string | undefined): Promise<string> {
  const name = raw ?? '';
  if (!isAppName(name) || !(await ctx.store.appExists(name))) throw notFound('app_not_found', `No app named "${name.slice(0, 63)}"`);
  return name;
}
