/** The apps as users see them: Slipway's records shaped into the HTTP contract (SPEC §4). */
import type { AppDetail, AppSummary, AppVersion } from '@slipway/contracts/app';
import type { AppRecord, VersionRecord } from '@slipway/core/store';
import type { ApiContext } from './context';

export async function listApps(ctx: ApiContext): Promise<AppSummary[]> {
  const names = await ctx.store.listAppNames();
  return Promise.all(names.map((name) => appSummary(ctx, name)));
}

export async function appSummary(ctx: ApiContext, name: string): Promise<AppSummary> {
  const [record, versions] = await Promise.all([ctx.store.getAppRecord(name), ctx.store.getVersions(name)]);
  return { name, current: current(ctx, record), versions: versions.map((v) => versionView(v, record)) };
}

export async function appDetail(ctx: ApiContext, name: string): Promise<AppDetail> {
  const [summary, deploys] = await Promise.all([appSummary(ctx, name), ctx.store.listDeploys({ app: name, limit: 20 })]);
  return { ...summary, settings: {}, deploys };
}

function current(ctx: ApiContext, record: AppRecord): AppSummary['current'] {
  if (!record.current || !record.port) return null;
  return {
    version: record.current,
    port: record.port,
    url: `http://${ctx.settings.bind}:${record.port}/`,
    status: 'running',
    startedAt: record.startedAt ?? '',
  };
}

function versionView(v: VersionRecord, record: AppRecord): AppVersion {
  const status: AppVersion['status'] =
    v.version === record.current
      ? 'running'
      : v.version === record.previous
        ? 'previous'
        : v.state === 'ok'
          ? 'kept'
          : v.state === 'failed'
            ? 'failed'
            : 'pending';
  return { version: v.version, image: v.image, createdAt: v.createdAt, status, deployId: v.deployId };
}
