/**
 * The embedded Redis as a container, when no `redis-server` is installed (scripts/embedded-redis.ts):
 * Slipway's own, not an app's, so it has its own spec here rather than the apps' hardening.
 */
import { EngineClient } from './client';

export interface RedisContainerSpec {
  name: string;
  image: string;
  cmd: string[];
  hostPort: number;
  volume: string;
  labels: Record<string, string>;
}

/** Replaces any container of that name, starts it on loopback; `stop` stops and removes it. */
export async function startRedisContainer(dockerHost: string | undefined, spec: RedisContainerSpec): Promise<{ stop: () => Promise<void> }> {
  const { docker } = new EngineClient(dockerHost);
  // A leftover of an earlier run, if any (most starts have none).
  await docker.getContainer(spec.name).remove({ force: true }).catch(() => {});
  const container = await docker.createContainer({
    name: spec.name,
    Image: spec.image,
    Cmd: spec.cmd,
    Labels: spec.labels,
    ExposedPorts: { '6379/tcp': {} },
    HostConfig: {
      PortBindings: { '6379/tcp': [{ HostIp: '127.0.0.1', HostPort: String(spec.hostPort) }] },
      Binds: [`${spec.volume}:/data`],
      // Restarted by the engine if it dies; removed when Slipway stops.
      RestartPolicy: { Name: 'on-failure' },
    },
  });
  await container.start();
  // At exit: a container that will not stop is replaced at the next start anyway.
  return { stop: () => container.stop({ t: 5 }).then(() => container.remove()).catch(() => {}) };
}
