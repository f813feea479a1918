/**
 * The only module that imports dockerode. Callers get plain data back, never dockerode objects,
 * and every resource it creates is labelled (see labels.ts).
 */
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { BuildOutputParser, demuxLogs } from './build-output';
import type { EngineFacts } from './build-pids';
import { LABEL } from './labels';
import { NetworkClient } from './networks';
import { LineSplitter } from './streams';

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
}

/** What a build may use: every step's container gets these. */
export interface BuildLimits {
  memoryBytes: number;
  cpus: number;
  network: string;
  /** A parent cgroup whose pids.max bounds the build (see build-pids.ts). */
  cgroupParent?: string | undefined;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  state: string;
  labels: Record<string, string>;
  ports: Array<{ hostIp?: string; hostPort?: number; containerPort: number }>;
  /** `ip:port` on its network of the port it publishes, while it runs (see containerAddress). */
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

/** Error from the engine itself (unreachable, 5xx): worth a retry, unlike a failed build. */
export class EngineError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'EngineError';
  }
}

export class BuildError extends Error {
  /** `cut`: the stream ended with no image and no error of the builder's (the engine went away mid-build). */
  constructor(message: string, readonly timedOut = false, readonly cut = false) {
    super(message);
    this.name = 'BuildError';
  }
}

export class Engine {
  readonly docker: Docker;
  private readonly networks: NetworkClient;

  /**
   * `instance`: when given, every listing and event watch is limited to resources carrying this
   * installation's label, and nothing else is removed as "ours".
   */
  constructor(
    private readonly dockerHost?: string,
    readonly instance?: string,
  ) {
    this.docker = dockerHost ? new Docker(dockerOptions(dockerHost)) : new Docker();
    this.networks = new NetworkClient(this.docker, instance);
  }

  private scoped(labels: string[]): string[] {
    return this.instance ? [...labels, `${LABEL.instance}=${this.instance}`] : labels;
  }

  async ping(timeoutMs = 3000): Promise<boolean> {
    try {
      await withTimeout(this.docker.ping(), timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const v = await this.docker.version();
    return { version: v.Version, apiVersion: v.ApiVersion };
  }

  /**
   * Builds from a tar stream and resolves only when the build really succeeded: the stream's error
   * lines fail it, a stream that ends without an image id fails it, and the timeout aborts it.
   */
  async build(
    context: Readable,
    opts: { tag: string; dockerfile: string; buildargs: Record<string, string>; timeoutMs: number; limits: BuildLimits },
    onLine: (line: string) => void,
  ): Promise<{ imageId: string }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), opts.timeoutMs);
    const parser = new BuildOutputParser();
    let imageId: string | undefined;
    const errors: string[] = [];
    const handle = (messages: ReturnType<BuildOutputParser['push']>) => {
      for (const m of messages) {
        if (m.kind === 'line') onLine(m.text);
        else if (m.kind === 'error') {
          errors.push(m.text);
          onLine(m.text);
        } else imageId = m.id;
      }
    };
    try {
      const stream = (await this.docker.buildImage(context as unknown as NodeJS.ReadableStream, {
        t: opts.tag,
        dockerfile: opts.dockerfile,
        buildargs: opts.buildargs,
        rm: true,
        // The legacy builder leaves the failed step's container behind unless told otherwise.
        forcerm: true,
        memory: opts.limits.memoryBytes,
        memswap: opts.limits.memoryBytes,
        cpuperiod: CPU_PERIOD_US,
        cpuquota: Math.round(opts.limits.cpus * CPU_PERIOD_US),
        networkmode: opts.limits.network,
        ...(opts.limits.cgroupParent ? { cgroupparent: opts.limits.cgroupParent } : {}),
        abortSignal: abort.signal,
      } as Docker.ImageBuildOptions)) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          (stream as Readable).destroy?.();
          reject(new BuildError(`Build timed out after ${Math.round(opts.timeoutMs / 1000)} s (SLIPWAY_BUILD_TIMEOUT_S)`, true));
        };
        if (abort.signal.aborted) return onAbort();
        abort.signal.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (chunk: Buffer) => handle(parser.push(chunk)));
        stream.on('end', () => {
          handle(parser.end());
          resolve();
        });
        stream.on('error', (err: Error) => reject(abort.signal.aborted ? new BuildError('Build timed out', true) : err));
      });
    } catch (err) {
      if (err instanceof BuildError) throw err;
      if (abort.signal.aborted) throw new BuildError(`Build timed out after ${Math.round(opts.timeoutMs / 1000)} s (SLIPWAY_BUILD_TIMEOUT_S)`, true);
      throw engineError('build', err);
    } finally {
      clearTimeout(timer);
    }
    if (errors.length) throw new BuildError(errors.join('\n'));
    if (!imageId) throw new BuildError('The build ended without producing an image', false, true);
    return { imageId };
  }

  /** What decides whether builds can get a pid limit (build-pids.ts). */
  async buildFacts(): Promise<EngineFacts> {
    const info = (await this.info()) as { CgroupDriver?: string; CgroupVersion?: string };
    const local = !this.dockerHost || this.dockerHost.startsWith('unix://');
    return { local, cgroupDriver: info.CgroupDriver ?? 'unknown', cgroupVersion: info.CgroupVersion ?? '1' };
  }

  /** An image's labels and ONBUILD triggers, or null when the engine does not have it. */
  async imageConfig(image: string): Promise<{ labels: Record<string, string>; onBuild: string[] } | null> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return { labels: info.Config?.Labels ?? {}, onBuild: (info.Config as { OnBuild?: string[] | null } | undefined)?.OnBuild ?? [] };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect image', err);
    }
  }

  /** Pulls an image, failing on the pull's error lines. */
  async pull(image: string): Promise<void> {
    const stream = (await this.call('pull image', () => this.docker.pull(image))) as NodeJS.ReadableStream;
    const errors = await errorLines(stream);
    if (errors.length) throw new EngineError(`Docker could not pull ${image}: ${errors.join('; ')}`);
  }

  async ensureNetwork(name: string, labels: Record<string, string>, opts: { icc: boolean; pool: string }): Promise<string> {
    return this.call('create network', () => this.networks.ensure(name, labels, opts));
  }

  /** Removes this installation's networks carrying `labels`. */
  async removeNetworks(labels: Record<string, string>): Promise<number> {
    return this.call('remove network', () => this.networks.remove(labels));
  }

  async imageExposedPort(image: string): Promise<number | null> {
    const info = await this.call('inspect image', () => this.docker.getImage(image).inspect());
    const ports = Object.keys(info.Config?.ExposedPorts ?? {})
      .filter((p) => p.endsWith('/tcp'))
      .map((p) => Number.parseInt(p, 10))
      .filter((p) => Number.isInteger(p) && p > 0)
      .sort((a, b) => a - b);
    return ports[0] ?? null;
  }

  /** The image's id, or null when the engine has no image by that name. */
  async imageId(image: string): Promise<string | null> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect image', err);
    }
  }

  /** Removes an image only when it carries Slipway's labels. */
  async removeOwnImage(image: string): Promise<boolean> {
    try {
      const info = await this.docker.getImage(image).inspect();
      const labels = info.Config?.Labels ?? {};
      if (!labels[LABEL.app] || (this.instance && labels[LABEL.instance] !== this.instance)) return false;
      await this.docker.getImage(image).remove({ force: false });
      return true;
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 409) return false;
      throw engineError('remove image', err);
    }
  }

  /** For images already proven the app's by their labels (listImages filters on them). */
  async removeImageById(id: string): Promise<void> {
    try {
      await this.docker.getImage(id).remove({ force: true });
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('remove image', err);
    }
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const port = `${spec.containerPort}/tcp`;
    const container = await this.call('create container', () =>
      this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Labels: spec.labels,
        Env: spec.env,
        ExposedPorts: { [port]: {} },
        StopTimeout: spec.stopGraceS,
        HostConfig: {
          NetworkMode: spec.network,
          PortBindings: { [port]: [{ HostIp: spec.hostIp, HostPort: String(spec.hostPort) }] },
          RestartPolicy: { Name: 'unless-stopped' },
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
    await this.call('start container', () => this.docker.getContainer(id).start());
  }

  /**
   * `ip:port` of a running app container on its (one) app network, the port being the one it publishes;
   * null when it is not running or has no address there.
   */
  async containerAddress(id: string): Promise<string | null> {
    const info = await this.call('inspect container', () => this.docker.getContainer(id).inspect());
    return addressOf(info.State.Running, info.NetworkSettings?.Networks, Number.parseInt(Object.keys(info.HostConfig?.PortBindings ?? {})[0] ?? '', 10));
  }

  async rename(id: string, name: string): Promise<void> {
    await this.call('rename container', () => this.docker.getContainer(id).rename({ name }));
  }

  async stop(id: string, graceS: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: graceS });
    } catch (err) {
      if (statusOf(err) !== 304) throw engineError('stop container', err);
    }
  }

  async state(id: string): Promise<ContainerState | null> {
    try {
      const info = await this.docker.getContainer(id).inspect();
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
    const container = this.docker.getContainer(id);
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
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 409: removal already in progress.
      if (status !== 404 && status !== 409) throw engineError('remove container', err);
    }
  }

  async listContainers(labels: Record<string, string | true>): Promise<ContainerInfo[]> {
    const label = this.scoped(Object.entries(labels).map(([k, v]) => (v === true ? k : `${k}=${v}`)));
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true, filters: { label } }));
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

  async findContainerByName(name: string): Promise<ContainerInfo | null> {
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true, filters: { name: [`^/${name}$`] } }));
    const c = list[0];
    return c
      ? { id: c.Id, name, image: c.Image, state: c.State, labels: c.Labels ?? {}, ports: [], address: null }
      : null;
  }

  async tailLogs(id: string, lines: number): Promise<string[]> {
    try {
      const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).map((l) => l.text).slice(-lines);
    } catch {
      return [];
    }
  }

  /**
   * Follows a container's output from `since` (Docker's `since`: seconds, fraction allowed), split into
   * stdout and stderr. The streams end when the container stops or `stop()` is called.
   */
  async followLogs(id: string, since: string | undefined): Promise<{ stdout: PassThrough; stderr: PassThrough; stop: () => void }> {
    const container = this.docker.getContainer(id);
    const stream = (await this.call('follow logs', () =>
      container.logs({ follow: true, stdout: true, stderr: true, timestamps: true, ...(since ? { since: since as unknown as number } : {}) }),
    )) as unknown as Readable;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    this.docker.modem.demuxStream(stream, stdout, stderr);
    const end = () => {
      stdout.end();
      stderr.end();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return { stdout, stderr, stop: () => stream.destroy() };
  }

  /** Calls `onStart` for every Slipway container that starts, until `stop()`. */
  async watchStarts(onStart: (id: string) => void, onEnd: () => void): Promise<{ stop: () => void }> {
    const stream = (await this.call('watch events', () =>
      this.docker.getEvents({ filters: { type: ['container'], event: ['start'], label: this.scoped([LABEL.managed]) } }),
    )) as unknown as Readable;
    const lines = new LineSplitter();
    stream.on('data', (chunk: Buffer) => {
      for (const raw of lines.push(chunk)) {
        try {
          const event = JSON.parse(raw) as { id?: string };
          if (event.id) onStart(event.id);
        } catch {
          // not an event
        }
      }
    });
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    return { stop: () => stream.destroy() };
  }

  /** Runs a command inside a running container (argument array, never a shell string built here). */
  async exec(id: string, cmd: string[]): Promise<{ stdout: PassThrough; stderr: PassThrough; stop: () => void }> {
    const exec = await this.call('exec', () => this.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true }));
    const stream = (await this.call('start exec', () => exec.start({ hijack: true, stdin: false }))) as unknown as Readable;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    this.docker.modem.demuxStream(stream, stdout, stderr);
    const end = () => {
      stdout.end();
      stderr.end();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return { stdout, stderr, stop: () => stream.destroy() };
  }

  async info(): Promise<Record<string, unknown>> {
    const info = (await this.call('info', () => this.docker.info())) as Record<string, unknown>;
    return info;
  }

  /** One stats sample (Docker takes about a second: it measures CPU over an interval). */
  async stats(id: string): Promise<Docker.ContainerStats | null> {
    try {
      return (await this.docker.getContainer(id).stats({ stream: false })) as Docker.ContainerStats;
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 409) return null;
      throw engineError('container stats', err);
    }
  }

  // ---- Swarm mode (SLIPWAY_ORCHESTRATOR=swarm) ----

  /** A service of this installation, or null. */
  async service(name: string): Promise<ServiceInfo | null> {
    try {
      const info = (await this.docker.getService(name).inspect()) as RawService;
      if (this.instance && info.Spec.Labels?.[LABEL.instance] !== this.instance) return null;
      return serviceInfo(info);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect service', err);
    }
  }

  async services(): Promise<ServiceInfo[]> {
    const list = (await this.call('list services', () => this.docker.listServices({ filters: { label: this.scoped([LABEL.managed]) } }))) as unknown as RawService[];
    return list.map(serviceInfo);
  }

  /** Creates the service, or updates it to `spec` (at the version it was read at). */
  async upsertService(spec: Record<string, unknown>, existing: ServiceInfo | null): Promise<void> {
    if (existing) {
      await this.call('update service', () => this.docker.getService(existing.id).update({ ...spec, version: existing.version }));
    } else {
      await this.call('create service', () => this.docker.createService(spec as Docker.CreateServiceOptions));
    }
  }

  async removeService(id: string): Promise<void> {
    try {
      await this.docker.getService(id).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('remove service', err);
    }
  }

  async tasks(service: string): Promise<TaskInfo[]> {
    const list = (await this.call('list tasks', () => this.docker.listTasks({ filters: { service: [service] } }))) as RawTask[];
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

  async health(containerId: string): Promise<string | null> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return info.State.Health?.Status ?? (info.State.Running ? 'running' : info.State.Status);
    } catch {
      return null;
    }
  }

  /** Tags `image` as `target` and pushes it (to SLIPWAY_REGISTRY), failing on the push's error lines. */
  async push(image: string, target: string): Promise<void> {
    const [repo, tag] = splitRef(target);
    await this.call('tag image', () => this.docker.getImage(image).tag({ repo, tag }));
    const stream = (await this.call('push image', () => this.docker.getImage(target).push({ tag }))) as NodeJS.ReadableStream;
    const errors = await errorLines(stream);
    if (errors.length) throw new EngineError(`Docker could not push ${target}: ${errors.join('; ')}`);
  }

  /** Images Slipway built for an app (by label), newest first. */
  async listImages(app?: string): Promise<Array<{ id: string; tags: string[]; labels: Record<string, string>; created: number }>> {
    const label = this.scoped(app ? [`${LABEL.app}=${app}`] : [LABEL.app]);
    const list = await this.call('list images', () => this.docker.listImages({ filters: { label } }));
    return list
      .map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {}, created: i.Created }))
      .sort((a, b) => b.created - a.created);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw engineError(what, err);
    }
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

function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}

/** The CFS period build steps get their CPU quota in (Docker's default). */
const CPU_PERIOD_US = 100_000;

export function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Engine errors keep the engine's own message ("port is already allocated", ...) for the deploy record. */
function engineError(what: string, err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const json = (err as { json?: { message?: string } }).json;
  const message = json?.message ?? (err as Error).message ?? String(err);
  return Object.assign(new EngineError(`Docker could not ${what}: ${message.trim()}`, err), { statusCode: statusOf(err) });
}

function dockerOptions(dockerHost: string): Docker.DockerOptions {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Reads a pull or push progress stream to its end; the error lines it carried (inside an HTTP 200). */
async function errorLines(stream: NodeJS.ReadableStream): Promise<string[]> {
  const parser = new BuildOutputParser();
  const errors: string[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => parser.push(c).forEach((m) => m.kind === 'error' && errors.push(m.text)));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  return errors;
}

/** An app container's `ip:port` on its one network, from a listing or an inspection. */
function addressOf(running: boolean, networks: Record<string, { IPAddress?: string }> | undefined, port: number | undefined): string | null {
  const ip = Object.values(networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
  return running && ip && port ? `${ip}:${port}` : null;
}
