/** Containers: create with Slipway's hardening, start, stop, inspect, list by label, remove. */
import type Docker from 'dockerode';
import { engineError, statusOf, type EngineClient } from './client';

export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: string[];
  containerPort: number;
  hostPort: number;
  hostIp: string;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  stopGraceS: number;
  /** The app's own network (SPEC §3 "Networks"). */
  network: string;
  /** Named volumes and where they are mounted. */
  mounts?: Array<{ volume: string; path: string }>;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  state: string;
  labels: Record<string, string>;
  ports: Array<{ hostIp?: string; hostPort?: number; containerPort: number }>;
  /** `ip:port` on its network of the port it publishes, while it runs (see `address`). */
  address: string | null;
}

export interface ContainerState {
  running: boolean;
  restarting: boolean;
  status: string;
  exitCode: number;
  restartCount: number;
  startedAt: string;
  oomKilled: boolean;
}

export class Containers {
  constructor(private readonly c: EngineClient) {}

  async create(spec: ContainerSpec): Promise<string> {
    const port = `${spec.containerPort}/tcp`;
    const container = await this.c.call('create container', () =>
      this.c.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Labels: spec.labels,
        Env: spec.env,
        ExposedPorts: { [port]: {} },
        StopTimeout: spec.stopGraceS,
        HostConfig: {
          NetworkMode: spec.network,
          // The app's named volumes (issue 16); never a bind of a host path.
          Mounts: (spec.mounts ?? []).map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.path, ReadOnly: false })),
          PortBindings: { [port]: [{ HostIp: spec.hostIp, HostPort: String(spec.hostPort) }] },
          // A candidate is not restarted by the engine: a crash during its health check must stay visible
          // (with its exit code) and fail the deploy. The switch gives the live one its restart policy.
          RestartPolicy: { Name: 'no' },
          Init: true,
          Memory: spec.memoryBytes,
          MemorySwap: spec.memoryBytes,
          NanoCpus: spec.nanoCpus,
          PidsLimit: spec.pidsLimit,
          SecurityOpt: ['no-new-privileges'],
          CapDrop: ['ALL'],
          CapAdd: ['NET_BIND_SERVICE'],
          Privileged: false,
          ReadonlyRootfs: false,
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
        },
      }),
    );
    return container.id;
  }

  async start(id: string): Promise<void> {
    await this.c.call('start container', () => this.c.docker.getContainer(id).start());
  }

  /**
   * `ip:port` of a running app container on its (one) app network, the port being the one it publishes;
   * null when it is not running or has no address there.
   */
  async address(id: string): Promise<string | null> {
    const info = await this.c.call('inspect container', () => this.c.docker.getContainer(id).inspect());
    return addressOf(info.State.Running, info.NetworkSettings?.Networks, Number.parseInt(Object.keys(info.HostConfig?.PortBindings ?? {})[0] ?? '', 10));
  }

  /** The live version comes back after a crash or an engine restart, until it is stopped on purpose. */
  async keepRunning(id: string): Promise<void> {
    await this.c.call('update container', () => this.c.docker.getContainer(id).update({ RestartPolicy: { Name: 'unless-stopped' } }));
  }

  async rename(id: string, name: string): Promise<void> {
    await this.c.call('rename container', () => this.c.docker.getContainer(id).rename({ name }));
  }

  async stop(id: string, graceS: number): Promise<void> {
    try {
      await this.c.docker.getContainer(id).stop({ t: graceS });
    } catch (err) {
      if (statusOf(err) !== 304) throw engineError('stop container', err);
    }
  }

  async state(id: string): Promise<ContainerState | null> {
    try {
      const info = await this.c.docker.getContainer(id).inspect();
      return {
        running: info.State.Running,
        restarting: info.State.Restarting,
        status: info.State.Status,
        exitCode: info.State.ExitCode,
        restartCount: info.RestartCount ?? 0,
        startedAt: info.State.StartedAt,
        oomKilled: info.State.OOMKilled,
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect container', err);
    }
  }

  /** Stops with the grace period, then removes. A container already gone is not an error. */
  async stopAndRemove(id: string, graceS: number): Promise<void> {
    const container = this.c.docker.getContainer(id);
    try {
      await container.stop({ t: graceS });
    } catch (err) {
      const status = statusOf(err);
      if (status !== 304 && status !== 404) throw engineError('stop container', err);
    }
    await this.remove(id);
  }

  async remove(id: string): Promise<void> {
    try {
      await this.c.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 409: removal already in progress.
      if (status !== 404 && status !== 409) throw engineError('remove container', err);
    }
  }

  async list(labels: Record<string, string | true>): Promise<ContainerInfo[]> {
    const label = this.c.scoped(Object.entries(labels).map(([k, v]) => (v === true ? k : `${k}=${v}`)));
    const list = await this.c.call('list containers', () => this.c.docker.listContainers({ all: true, filters: { label } }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      state: c.State,
      labels: c.Labels ?? {},
      ports: (c.Ports ?? []).map((p) => ({ hostIp: p.IP, hostPort: p.PublicPort, containerPort: p.PrivatePort })),
      address: addressOf(c.State === 'running', c.NetworkSettings?.Networks, (c.Ports ?? []).find((p) => p.PublicPort)?.PrivatePort),
    }));
  }

  async findByName(name: string): Promise<ContainerInfo | null> {
    const list = await this.c.call('list containers', () => this.c.docker.listContainers({ all: true, filters: { name: [`^/${name}$`] } }));
    const c = list[0];
    return c
      ? { id: c.Id, name, image: c.Image, state: c.State, labels: c.Labels ?? {}, ports: [], address: null }
      : null;
  }

  async health(containerId: string): Promise<string | null> {
    try {
      const info = await this.c.docker.getContainer(containerId).inspect();
      return info.State.Health?.Status ?? (info.State.Running ? 'running' : info.State.Status);
    } catch {
      return null;
    }
  }

  /** One stats sample (Docker takes about a second: it measures CPU over an interval). */
  async stats(id: string): Promise<Docker.ContainerStats | null> {
    try {
      return (await this.c.docker.getContainer(id).stats({ stream: false })) as Docker.ContainerStats;
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 409) return null;
      throw engineError('container stats', err);
    }
  }
}

/** An app container's `ip:port` on its one network, from a listing or an inspection. */
function addressOf(running: boolean, networks: Record<string, { IPAddress?: string }> | undefined, port: number | undefined): string | null {
  const ip = Object.values(networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
  return running && ip && port ? `${ip}:${port}` : null;
}
