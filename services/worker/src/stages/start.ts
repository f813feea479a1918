/**
 * Stage 3: the candidate container `slipway-<app>-<version>` on a free host port, with SPEC §3's limits
 * and hardening. The port comes from get-port and is pinned in the container's bindings, so an engine or
 * container restart keeps it.
 */
import getPort from 'get-port';
import type { Engine } from '../docker/engine';
import { EngineError } from '../docker/engine';
import { containerName } from '../docker/labels';
import { PipelineError } from '../errors';

export interface StartInput {
  app: string;
  version: string;
  image: string;
  labels: Record<string, string>;
  bind: string;
  stopGraceS: number;
  /** Host ports Slipway's other containers hold (stopped ones included), never handed out again. */
  takenPorts: number[];
}

export interface Candidate {
  containerId: string;
  name: string;
  hostPort: number;
  containerPort: number;
}

export const DEFAULT_LIMITS = { memoryBytes: 512 * 1024 * 1024, nanoCpus: 1_000_000_000, pidsLimit: 256 } as const;
const DEFAULT_CONTAINER_PORT = 3000;

export async function start(engine: Engine, input: StartInput): Promise<Candidate> {
  const name = containerName(input.app, input.version);
  const [leftover, exposed] = await Promise.all([engine.findContainerByName(name), engine.imageExposedPort(input.image)]);
  // A container of this name can only be a leftover of an earlier attempt at this very version.
  if (leftover) {
    if (leftover.labels['io.slipway.app'] !== input.app) {
      throw new PipelineError('start_failed', `A container named ${name} exists and was not made by Slipway; remove or rename it`);
    }
    await engine.remove(leftover.id);
  }

  const containerPort = exposed ?? DEFAULT_CONTAINER_PORT;
  // get-port checks that the port is free now; another process may still take it before Docker binds it.
  for (let attempt = 1; ; attempt++) {
    const hostPort = await getPort({ host: input.bind, exclude: input.takenPorts });
    let containerId: string | undefined;
    try {
      containerId = await engine.createContainer({
        name,
        image: input.image,
        labels: input.labels,
        env: [`PORT=${containerPort}`],
        containerPort,
        hostPort,
        hostIp: input.bind,
        ...DEFAULT_LIMITS,
        stopGraceS: input.stopGraceS,
      });
      await engine.start(containerId);
      return { containerId, name, hostPort, containerPort };
    } catch (err) {
      if (containerId) await engine.remove(containerId);
      const message = (err as Error).message;
      if (attempt < 3 && /port is already allocated|address already in use/i.test(message)) continue;
      if (err instanceof EngineError) throw new PipelineError('start_failed', message, true);
      throw err;
    }
  }
}
