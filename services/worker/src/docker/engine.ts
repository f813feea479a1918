/**
 * The Docker layer's front door, the only way in for the rest of the worker: the engine itself (ping,
 * version, info, networks) and one client per concern, each in its own module. dockerode stays inside
 * docker/; callers get plain data back, never dockerode objects, and every resource Slipway creates is
 * labelled (see labels.ts).
 */
import { EngineClient, withTimeout } from './client';
import { Containers } from './containers';
import { Images } from './images';
import { NetworkClient, type NetworkOptions } from './networks';
import { Streams } from './streams';
import { Swarm } from './swarm';
import { Volumes } from './volumes';

export { BuildError, type BuildLimits } from './images';
export { EngineError, statusOf } from './client';
export type { ContainerInfo, ContainerSpec, ContainerState } from './containers';
export type { ServiceInfo, TaskInfo } from './swarm';

export class Engine {
  readonly images: Images;
  readonly containers: Containers;
  readonly streams: Streams;
  readonly swarm: Swarm;
  readonly volumes: Volumes;
  private readonly client: EngineClient;
  private readonly networks: NetworkClient;

  /** `instance`: when given, listings, event watches and removals keep to this installation's resources. */
  constructor(dockerHost?: string, instance?: string) {
    this.client = new EngineClient(dockerHost, instance);
    this.images = new Images(this.client);
    this.containers = new Containers(this.client);
    this.streams = new Streams(this.client);
    this.swarm = new Swarm(this.client);
    this.volumes = new Volumes(this.client);
    this.networks = new NetworkClient(this.client.docker, instance);
  }

  async ping(timeoutMs = 3000): Promise<boolean> {
    try {
      await withTimeout(this.client.docker.ping(), timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const v = await this.client.docker.version();
    return { version: v.Version, apiVersion: v.ApiVersion };
  }

  async info(): Promise<Record<string, unknown>> {
    return this.client.info();
  }

  async ensureNetwork(name: string, labels: Record<string, string>, opts: NetworkOptions): Promise<string> {
    return this.client.call('create network', () => this.networks.ensure(name, labels, opts));
  }

  /** Removes this installation's networks carrying `labels`. */
  async removeNetworks(labels: Record<string, string>): Promise<number> {
    return this.client.call('remove network', () => this.networks.remove(labels));
  }
}
