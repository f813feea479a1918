/**
 * Stage 5: the healthy candidate becomes the app's current version. The gateways are told and drain the
 * old upstream; only then does the previous container stop (its image stays, for rollback). Containers
 * are proven ours by their labels before anything is stopped.
 */
import type { Redis } from 'ioredis';
import { announceRoute } from '@slipway/records/route-announcements';
import type { AppRecord, Store } from '@slipway/records/store';
import type { Engine } from '../docker/engine';
import { LABEL } from '../docker/labels';
import type { Healthy } from './health';

export interface SwitchInput {
  app: string;
  version: string;
  deployId: string;
  healthy: Healthy;
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
  const { hostPort: port, address, containerId } = input.healthy;
  await engine.containers.keepRunning(containerId);
  const { live, drain } = await recordSwitch(deps, before, { app: input.app, version: input.version, port, address, containerId }, input.stopGraceS);
  if (drain.gateways) onLine(`Gateway switched to ${input.version} (${drain.drained}/${drain.gateways} drained the old upstream)`);

  // Everything else of this app goes: the previous version, and leftovers of interrupted deploys.
  const others = containers.filter((c) => c.id !== containerId);
  await Promise.all(
    others.map((container) => {
      onLine(`Stopping ${container.name} (grace ${input.stopGraceS} s)`);
      return engine.containers.stopAndRemove(container.id, input.stopGraceS);
    }),
  );
  if (input.healthy.name !== input.healthy.finalName) await engine.containers.rename(containerId, input.healthy.finalName);
  return live;
}

/**
 * The switch's record half, the same for every runner: the app's record names the new version, the
 * version is marked as run, and the gateways move to it and drain the previous upstream.
 */
export async function recordSwitch(
  deps: { store: Store; redis: Redis },
  before: AppRecord,
  next: { app: string; version: string; port: number; address: string | null; containerId: string },
  stopGraceS: number,
): Promise<{ live: Live; drain: Awaited<ReturnType<typeof announceRoute>> }> {
  const { store, redis } = deps;
  const startedAt = new Date().toISOString();
  const replaced = before.current && before.current !== next.version ? before.current : null;
  await store.setAppRecord(next.app, {
    current: next.version,
    previous: replaced ?? before.previous,
    port: next.port,
    address: next.address ?? undefined,
    containerId: next.containerId,
    startedAt,
    status: 'running',
  });
  const version = await store.getVersion(next.app, next.version);
  if (version) await store.putVersion(next.app, { ...version, state: 'ok', deployedAt: startedAt });
  // A stopped app's upstream serves nothing, and an unchanged port (a swarm's ingress) is not to drain.
  const previousPort = before.status === 'stopped' || before.port === next.port ? null : (before.port ?? null);
  const drain = await announceRoute(redis, { app: next.app, version: next.version, port: next.port, address: next.address, previousPort }, stopGraceS * 1000);
  return { live: { app: next.app, version: next.version, containerId: next.containerId, port: next.port, startedAt, replaced }, drain };
}

/** What reconcile found running becomes the app's current version, and the gateways learn it now. */
export async function recordAdopted(
  ctx: { store: Store; redis: Redis },
  app: string,
  record: AppRecord,
  found: { version: string; image: string; deployId: string; port: number | null; address: string | null; containerId?: string; status?: 'running' | 'stopped' },
): Promise<void> {
  const { version, image, deployId, port, address, containerId, status } = found;
  await ctx.store.setAppRecord(app, { current: version, port: port ?? undefined, address: address ?? undefined, ...(containerId ? { containerId } : {}), ...(status ? { status } : {}), startedAt: record.startedAt ?? new Date().toISOString() });
  const known = await ctx.store.getVersion(app, version);
  if (!known || known.state !== 'ok') {
    await ctx.store.putVersion(app, { version, image, deployId, state: 'ok', createdAt: known?.createdAt ?? new Date().toISOString() });
  }
  await announceRoute(ctx.redis, { app, version, port, address, previousPort: null }, 0);
}
