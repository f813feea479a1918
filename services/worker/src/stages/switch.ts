/**
 * Stage 5: the healthy candidate becomes the app's current version. The gateways are told and drain the
 * old upstream; only then does the previous container stop (its image stays, for rollback). Containers
 * are proven ours by their labels before anything is stopped.
 */
import type { Redis } from 'ioredis';
import { announceRoute } from '@slipway/core/routes';
import type { Store } from '@slipway/core/store';
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
  const { engine, store, redis } = deps;
  const [before, containers] = await Promise.all([store.getAppRecord(input.app), engine.listContainers({ [LABEL.app]: input.app })]);
  const startedAt = new Date().toISOString();
  const replaced = before.current && before.current !== input.version ? before.current : null;
  await store.setAppRecord(input.app, {
    current: input.version,
    previous: replaced ?? before.previous,
    port: input.healthy.hostPort,
    address: input.healthy.address ?? undefined,
    containerId: input.healthy.containerId,
    startedAt,
    status: 'running',
  });
  const version = await store.getVersion(input.app, input.version);
  if (version) await store.putVersion(input.app, { ...version, state: 'ok', deployedAt: startedAt });

  const drain = await announceRoute(
    redis,
    { app: input.app, version: input.version, port: input.healthy.hostPort, address: input.healthy.address, previousPort: before.status === 'stopped' ? null : (before.port ?? null) },
    input.stopGraceS * 1000,
  );
  if (drain.gateways) onLine(`Gateway switched to ${input.version} (${drain.drained}/${drain.gateways} drained the old upstream)`);

  // Everything else of this app goes: the previous version, and leftovers of interrupted deploys.
  const others = containers.filter((c) => c.id !== input.healthy.containerId);
  await Promise.all(
    others.map((container) => {
      onLine(`Stopping ${container.name} (grace ${input.stopGraceS} s)`);
      return engine.stopAndRemove(container.id, input.stopGraceS);
    }),
  );
  if (input.healthy.name !== input.healthy.finalName) await engine.rename(input.healthy.containerId, input.healthy.finalName);
  return { app: input.app, version: input.version, containerId: input.healthy.containerId, port: input.healthy.hostPort, startedAt, replaced };
}
