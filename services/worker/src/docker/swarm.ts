/** Swarm mode (SLIPWAY_ORCHESTRATOR=swarm): this installation's services and their tasks. */
import type Docker from 'dockerode';
import { engineError, statusOf, type EngineClient } from './client';
import { LABEL } from './labels';

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

  async list(): Promise<ServiceInfo[]> {
    const list = (await this.c.call('list services', () => this.c.docker.listServices({ filters: { label: this.c.scoped([LABEL.managed]) } }))) as unknown as RawService[];
    return list.map(serviceInfo);
  }

  /** Creates the service, or updates it to `spec` (at the version it was read at). */
  async upsert(spec: Record<string, unknown>, existing: ServiceInfo | null): Promise<void> {
    if (existing) {
      await this.c.call('update service', () => this.c.docker.getService(existing.id).update({ ...spec, version: existing.version }));
    } else {
      await this.c.call('create service', () => this.c.docker.createService(spec as Docker.CreateServiceOptions));
    }
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
      desired: t.DesiredState,
      state: t.Status?.State ?? '',
      error: t.Status?.Err ?? '',
      containerId: t.Status?.ContainerStatus?.ContainerID ?? '',
      deployId: t.Spec?.ContainerSpec?.Labels?.[LABEL.deploy] ?? '',
      createdAt: t.CreatedAt ?? '',
    }));
  }
}

export interface ServiceInfo {
  id: string;
  name: string;
  version: number;
  labels: Record<string, string>;
  image: string;
  replicas: number;
  publishedPort: number | null;
  updateState: string | null;
  updateMessage: string;
  spec: Record<string, unknown>;
}

export interface TaskInfo {
  id: string;
  desired: string;
  state: string;
  error: string;
  containerId: string;
  deployId: string;
  createdAt: string;
}

interface RawService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    TaskTemplate?: { ContainerSpec?: { Image?: string } };
    Mode?: { Replicated?: { Replicas?: number } };
    EndpointSpec?: { Ports?: Array<{ PublishedPort?: number }> };
  } & Record<string, unknown>;
  UpdateStatus?: { State?: string; Message?: string };
}

interface RawTask {
  ID: string;
  DesiredState: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
}

function serviceInfo(s: RawService): ServiceInfo {
  return {
    id: s.ID,
    name: s.Spec.Name,
    version: s.Version.Index,
    labels: s.Spec.Labels ?? {},
    image: s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '',
    replicas: s.Spec.Mode?.Replicated?.Replicas ?? 0,
    publishedPort: s.Spec.EndpointSpec?.Ports?.[0]?.PublishedPort ?? null,
    updateState: s.UpdateStatus?.State ?? null,
    updateMessage: s.UpdateStatus?.Message ?? '',
    spec: s.Spec,
  };
}
