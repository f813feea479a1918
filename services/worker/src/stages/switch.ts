/**
 * Stage 5: the healthy candidate becomes the app's current version; only then does the previous
 * container stop (its image stays, for rollback). Containers are proven ours by their labels first.
 */
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
  replaced: string | null;
}

export async function switchTo(engine: Engine, store: Store, input: SwitchInput, onLine: (line: string) => void): Promise<Live> {
  const [before, containers] = await Promise.all([store.getAppRecord(input.app), engine.listContainers({ [LABEL.app]: input.app })]);
  const startedAt = new Date().toISOString();
  const replaced = before.current && before.current !== input.version ? before.current : null;
  await Promise.all([
    store.setAppRecord(input.app, {
      current: input.version,
      previous: replaced ?? before.previous,
      port: input.healthy.hostPort,
      containerId: input.healthy.containerId,
      startedAt,
    }),
    store.settleVersion(input.app, input.version, input.deployId, 'ok'),
  ]);

  // Everything else of this app goes: the previous version, and leftovers of interrupted deploys.
  const others = containers.filter((c) => c.id !== input.healthy.containerId);
  await Promise.all(
    others.map((container) => {
      onLine(`Stopping ${container.name} (grace ${input.stopGraceS} s)`);
      return engine.stopAndRemove(container.id, input.stopGraceS);
    }),
  );
  return {
    app: input.app,
    version: input.version,
    containerId: input.healthy.containerId,
    port: input.healthy.hostPort,
    startedAt,
    replaced,
  };
}
