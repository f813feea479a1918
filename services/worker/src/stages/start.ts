/**
 * Stage 3: a candidate container `slipway-<app>-<version>` (one per instance) on a free host port, with SPEC §3's limits
 * and hardening and the app's settings (env, port, memory, CPUs). The port comes from get-port and is
 * pinned in the container's bindings, so an engine or container restart keeps it.
 */
import { randomBytes } from 'node:crypto';
import getPort from 'get-port';
import type { AppSettings } from '@slipway/contracts/settings';
import type { Engine } from '../docker/engine';
import { EngineError } from '../docker/engine';
import { containerName, LABEL } from '../docker/labels';
import { appNetworkName } from '../docker/networks';
import { PipelineError } from '../errors';

export interface StartInput {
  app: string;
  version: string;
  image: string;
  labels: Record<string, string>;
  /** Which of the app's instances this is (0 for the first). */
  replica: number;
  settings: AppSettings;
  bind: string;
  stopGraceS: number;
  /** The containers serving now: a restart of the same version starts beside them under temporary names. */
  liveContainerIds: string[];
  /** Host ports Slipway's other containers hold (stopped ones included), never handed out again. */
  takenPorts: number[];
  /** SLIPWAY_NETWORK_POOL: the app's network gets a /24 of it. */
  networkPool: string;
  /** The app's named volumes (stages/volumes.ts). */
  mounts: Array<{ volume: string; path: string }>;
}

export interface Candidate {
  containerId: string;
  name: string;
  /** The name it must carry once it is the only container of its version. */
  finalName: string;
  hostPort: number;
  containerPort: number;
  /** Where the gateway reaches it (AppRecord.address). */
  address: string | null;
}

const DEFAULT_CONTAINER_PORT = 3000;

export async function start(engine: Engine, input: StartInput): Promise<Candidate> {
  const instance = input.labels[LABEL.instance] ?? '';
  const mine = (c: { labels: Record<string, string> } | null) =>
    c !== null && c.labels[LABEL.app] === input.app && c.labels[LABEL.instance] === instance;
  let finalName = containerName(input.app, input.version, undefined, input.replica);
  let existing = await engine.containers.findByName(finalName);
  // The name belongs to someone else (another Slipway on this engine, or a container of the user's own):
  // never touch it; this installation's containers of the version carry its id instead.
  if (existing && !mine(existing)) {
    finalName = containerName(input.app, input.version, instance, input.replica);
    existing = await engine.containers.findByName(finalName);
    if (existing && !mine(existing)) {
      throw new PipelineError('start_failed', `A container named ${finalName} exists and was not made by this Slipway; remove or rename it`);
    }
  }
  const exposed = await engine.images.exposedPort(input.image);
  let name = finalName;
  if (existing) {
    // The live container of this very version (a restart): start beside it, rename after the switch.
    if (input.liveContainerIds.includes(existing.id)) name = `${finalName}-${randomBytes(3).toString('hex')}`;
    // Otherwise a leftover of an earlier attempt at this version.
    else await engine.containers.remove(existing.id);
  }

  const network = await appNetwork(engine, input);
  const containerPort = input.settings.port ?? exposed ?? DEFAULT_CONTAINER_PORT;
  const env = [...Object.entries(input.settings.env).map(([k, v]) => `${k}=${v}`), `PORT=${containerPort}`];
  // get-port checks that the port is free now; another process may still take it before Docker binds it.
  for (let attempt = 1; ; attempt++) {
    const hostPort = await getPort({ host: input.bind, exclude: input.takenPorts });
    let containerId: string | undefined;
    try {
      containerId = await engine.containers.create({
        name,
        image: input.image,
        labels: { ...input.labels, [LABEL.replica]: String(input.replica) },
        env,
        containerPort,
        hostPort,
        hostIp: input.bind,
        memoryBytes: input.settings.memoryMb * 1024 * 1024,
        nanoCpus: Math.round(input.settings.cpus * 1e9),
        pidsLimit: 256,
        stopGraceS: input.stopGraceS,
        network,
        mounts: input.mounts,
      });
      await engine.containers.start(containerId);
      const address = await engine.containers.address(containerId);
      return { containerId, name, finalName, hostPort, containerPort, address };
    } catch (err) {
      if (containerId) await engine.containers.remove(containerId);
      const message = (err as Error).message;
      if (attempt < 3 && /port is already allocated|address already in use/i.test(message)) continue;
      if (err instanceof EngineError) throw new PipelineError('start_failed', message, true);
      throw err;
    }
  }
}

/**
 * The app's own network (SPEC §3 "Networks"), made at its first start and removed with the app: its
 * containers reach each other and nothing of other apps'. The gateway reaches them from the host, at
 * their address on it (Candidate.address) or their published port.
 */
async function appNetwork(engine: Engine, input: StartInput): Promise<string> {
  const instance = input.labels[LABEL.instance] ?? 'default';
  const labels = { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.app]: input.app };
  try {
    return await engine.ensureNetwork(appNetworkName(input.app, instance), labels, { icc: true, pool: input.networkPool });
  } catch (err) {
    throw new PipelineError('start_failed', (err as Error).message, err instanceof EngineError);
  }
}
