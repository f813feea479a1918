/** Swarm mode (SLIPWAY_ORCHESTRATOR=swarm): this installation's services, their tasks, and the nodes they run on. */
import type Docker from 'dockerode';
import { engineError, statusOf, type EngineClient } from './client';
import { LABEL } from './labels';
import type { RegistryLogin } from './registry';

export class Swarm {
  constructor(private readonly c: EngineClient) {}

  /** A service of this installation, or null. */
  async get(name: string): Promise<ServiceInfo | null> {
    try {
      const info = (await this.c.docker.getService(name).inspect()) as RawService;
      if (this.c.instance && info.Spec.Labels?.[LABEL.instance] !== this.c.instance) return null;
      return serviceInfo(info);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect service', err);
    }
  }

  /** This installation's services (one app's, with `app`), oldest first. */
  async list(app?: string): Promise<ServiceInfo[]> {
    const labels = this.c.scoped([LABEL.managed, ...(app ? [`${LABEL.app}=${app}`] : [])]);
    const list = (await this.c.call('list services', () => this.c.docker.listServices({ filters: { label: labels } }))) as unknown as RawService[];
    return list.map(serviceInfo).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** `login` goes with the service: every node pulls its image with it. */
  async create(spec: Record<string, unknown>, login?: RegistryLogin): Promise<void> {
    await this.c.call('create service', () => this.c.docker.createService(login as Docker.AuthConfig, spec as Docker.ServiceSpec));
  }

  /** Updates the service to `spec` (at the version it was read at); new tasks pull with `login`. */
  async update(existing: ServiceInfo, spec: Record<string, unknown>, login?: RegistryLogin): Promise<void> {
    // dockerode takes the auth first (its types omit it).
    const service = this.c.docker.getService(existing.id) as Docker.Service & { update(auth: RegistryLogin | undefined, options: object): Promise<unknown> };
    await this.c.call('update service', () => service.update(login, { ...spec, version: existing.version }));
  }

  async remove(id: string): Promise<void> {
    try {
      await this.c.docker.getService(id).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('remove service', err);
    }
  }

  async tasks(service: string): Promise<TaskInfo[]> {
    const list = (await this.c.call('list tasks', () => this.c.docker.listTasks({ filters: { service: [service] } }))) as RawTask[];
    return list.map((t) => ({
      id: t.ID,
      nodeId: t.NodeID ?? '',
      desired: t.DesiredState,
      state: t.Status?.State ?? '',
      error: t.Status?.Err ?? '',
      containerId: t.Status?.ContainerStatus?.ContainerID ?? '',
      publishedPort: t.Status?.PortStatus?.Ports?.[0]?.PublishedPort ?? null,
      deployId: t.Spec?.ContainerSpec?.Labels?.[LABEL.deploy] ?? '',
      createdAt: t.CreatedAt ?? '',
    }));
  }

  async nodes(): Promise<NodeInfo[]> {
    const list = (await this.c.call('list nodes', () => this.c.docker.listNodes())) as RawNode[];
    return list.map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? '',
      role: n.Spec?.Role ?? '',
      availability: n.Spec?.Availability ?? '',
      state: n.Status?.State ?? '',
      // A manager may report 0.0.0.0 as its node address; its advertised manager address is the real one.
      address: n.Status?.Addr && n.Status.Addr !== '0.0.0.0' ? n.Status.Addr : (n.ManagerStatus?.Addr ?? '').replace(/:\d+$/, ''),
      engine: n.Description?.Engine?.EngineVersion ?? '',
    }));
  }

  /** The swarm node this worker's engine is. */
  async self(): Promise<string> {
    const info = (await this.c.call('engine info', () => this.c.docker.info())) as { Swarm?: { NodeID?: string } };
    return info.Swarm?.NodeID ?? '';
  }
}

export interface ServiceInfo {
  id: string;
  name: string;
  version: number;
  createdAt: string;
  labels: Record<string, string>;
  image: string;
  replicas: number;
  spec: Record<string, unknown>;
}

export interface TaskInfo {
  id: string;
  nodeId: string;
  desired: string;
  state: string;
  error: string;
  containerId: string;
  /** The port host-mode publishing gave the task on its node. */
  publishedPort: number | null;
  deployId: string;
  createdAt: string;
}

export interface NodeInfo {
  id: string;
  hostname: string;
  role: string;
  /** active | pause | drain */
  availability: string;
  /** ready | down | unknown | disconnected */
  state: string;
  address: string;
  engine: string;
}

interface RawService {
  ID: string;
  CreatedAt?: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    TaskTemplate?: { ContainerSpec?: { Image?: string } };
    Mode?: { Replicated?: { Replicas?: number } };
  } & Record<string, unknown>;
}

interface RawTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string }; PortStatus?: { Ports?: Array<{ PublishedPort?: number }> } };
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
}

interface RawNode {
  ID: string;
  Spec?: { Role?: string; Availability?: string };
  Description?: { Hostname?: string; Engine?: { EngineVersion?: string } };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
}

function serviceInfo(s: RawService): ServiceInfo {
  return {
    id: s.ID,
    name: s.Spec.Name,
    version: s.Version.Index,
    createdAt: s.CreatedAt ?? '',
    labels: s.Spec.Labels ?? {},
    image: s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '',
    replicas: s.Spec.Mode?.Replicated?.Replicas ?? 0,
    spec: s.Spec,
  };
}
