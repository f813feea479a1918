/**
 * Stage 5: the healthy candidates (one per instance) become the app's current version. The gateways are
 * told and drain the old upstreams; only then do the previous containers stop (their image stays, for
 * rollback). Containers are proven ours by their labels before anything is stopped.
 */
import type { Redis } from 'ioredis';
import { announceRoute, leaving, routeTo } from '@slipway/records/route-announcements';
import type { AppRecord, Replica, Store } from '@slipway/records/store';
import type { Engine } from '../docker/engine';
import { LABEL } from '../docker/labels';
import type { Healthy } from './health';

export interface SwitchInput {
  app: string;
  version: string;
  deployId: string;
  /** Every instance, the first first. */
  healthy: Healthy[];
  stopGraceS: number;
}

export interface Live {
  app: string;
  version: string;
  containerId: string;
  port: number;
  startedAt: string;
  /** The version it replaced, if it was another one. */
  replaced: string | null;
}

export async function switchTo(
  deps: { engine: Engine; store: Store; redis: Redis },
  input: SwitchInput,
  onLine: (line: string) => void,
): Promise<Live> {
  const { engine } = deps;
  const [before, containers] = await Promise.all([deps.store.getAppRecord(input.app), engine.containers.list({ [LABEL.app]: input.app })]);
  for (const healthy of input.healthy) await engine.containers.keepRunning(healthy.containerId);
  const replicas = input.healthy.map((h): Replica => ({ containerId: h.containerId, port: h.hostPort, address: h.address ?? undefined }));
  const { live, drain } = await recordSwitch(deps, before, { app: input.app, version: input.version, replicas }, input.stopGraceS);
  if (drain.gateways) onLine(`Gateway switched to ${input.version} (${drain.drained}/${drain.gateways} drained the old upstream)`);

  // Everything else of this app goes: the previous version, and leftovers of interrupted deploys.
  const kept = new Set(replicas.map((r) => r.containerId));
  const others = containers.filter((c) => !kept.has(c.id));
  await Promise.all(
    others.map((container) => {
      onLine(`Stopping ${container.name} (grace ${input.stopGraceS} s)`);
      return engine.containers.stopAndRemove(container.id, input.stopGraceS);
    }),
  );
  for (const healthy of input.healthy) if (healthy.name !== healthy.finalName) await engine.containers.rename(healthy.containerId, healthy.finalName);
  return live;
}

/**
 * The switch's record half, the same for every runner: the app's record names the new version, the
 * version is marked as run, and the gateways move to it and drain the previous upstream.
 */
export async function recordSwitch(
  deps: { store: Store; redis: Redis },
  before: AppRecord,
  next: { app: string; version: string; replicas: Replica[] },
  stopGraceS: number,
): Promise<{ live: Live; drain: Awaited<ReturnType<typeof announceRoute>> }> {
  const { store, redis } = deps;
  const startedAt = new Date().toISOString();
  const replaced = before.current && before.current !== next.version ? before.current : null;
  const first = next.replicas[0]!;
  await store.setAppRecord(next.app, {
    current: next.version,
    previous: replaced ?? before.previous,
    port: first.port,
    address: first.address,
    containerId: first.containerId,
    replicas: next.replicas,
    startedAt,
    status: 'running',
  });
  const version = await store.getVersion(next.app, next.version);
  if (version) await store.putVersion(next.app, { ...version, state: 'ok', deployedAt: startedAt });
  // A stopped app's upstreams serve nothing; one still in use (a swarm's ingress port) is not drained by the gateways.
  const drain = await announceRoute(redis, { app: next.app, ...routeTo(next.version, next.replicas), ...leaving(before) }, stopGraceS * 1000);
  return { live: { app: next.app, version: next.version, containerId: first.containerId, port: first.port, startedAt, replaced }, drain };
}

/** What reconcile found running becomes the app's current version, and the gateways learn it now. */
export async function recordAdopted(
  ctx: { store: Store; redis: Redis },
  app: string,
  record: AppRecord,
  found: { version: string; image: string; deployId: string; port: number | null; address: string | null; containerId?: string; status?: 'running' | 'stopped'; replicas?: Replica[] },
): Promise<void> {
  const { version, image, deployId, port, address, containerId, status, replicas } = found;
  await ctx.store.setAppRecord(app, {
    current: version,
    port: port ?? undefined,
    address: address ?? undefined,
    replicas,
    ...(containerId ? { containerId } : {}),
    ...(status ? { status } : {}),
    startedAt: record.startedAt ?? new Date().toISOString(),
  });
  const known = await ctx.store.getVersion(app, version);
  if (!known || known.state !== 'ok') {
    await ctx.store.putVersion(app, { version, image, deployId, state: 'ok', createdAt: known?.createdAt ?? new Date().toISOString() });
  }
  await announceRoute(ctx.redis, { app, ...(replicas?.length ? routeTo(version, replicas) : { version, port, address }), previousPort: null }, 0);
}
