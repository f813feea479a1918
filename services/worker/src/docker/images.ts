/** Images: builds (the legacy builder, with the build's limits), inspection, removal of Slipway's own, pull and push. */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { BuildOutputParser } from './build-output';
import type { EngineFacts } from './build-pids';
import { EngineError, engineError, statusOf, type EngineClient } from './client';
import { LABEL } from './labels';
import type { RegistryLogin } from './registry';

/** What a build may use: every step's container gets these. */
export interface BuildLimits {
  memoryBytes: number;
  cpus: number;
  network: string;
  /** A parent cgroup whose pids.max bounds the build (see build-pids.ts). */
  cgroupParent?: string | undefined;
}

export class BuildError extends Error {
  /** `cut`: the stream ended with no image and no error of the builder's (the engine went away mid-build). */
  constructor(message: string, readonly timedOut = false, readonly cut = false) {
    super(message);
    this.name = 'BuildError';
  }
}

/** Names the port an image's app listens on, when it exposes several (templates/Dockerfile.static sets it). */
export const PORT_LABEL = 'io.slipway.port';

export class Images {
  constructor(private readonly c: EngineClient) {}

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
      const stream = (await this.c.docker.buildImage(context as unknown as NodeJS.ReadableStream, {
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
    const info = (await this.c.info()) as { CgroupDriver?: string; CgroupVersion?: string };
    const local = !this.c.dockerHost || this.c.dockerHost.startsWith('unix://');
    return { local, cgroupDriver: info.CgroupDriver ?? 'unknown', cgroupVersion: info.CgroupVersion ?? '1' };
  }

  /** An image's labels and ONBUILD triggers, or null when the engine does not have it. */
  async config(image: string): Promise<{ labels: Record<string, string>; onBuild: string[] } | null> {
    try {
      const info = await this.c.docker.getImage(image).inspect();
      return { labels: info.Config?.Labels ?? {}, onBuild: (info.Config as { OnBuild?: string[] | null } | undefined)?.OnBuild ?? [] };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect image', err);
    }
  }

  /** Pulls an image, failing on the pull's error lines. */
  async pull(image: string): Promise<void> {
    const stream = (await this.c.call('pull image', () => this.c.docker.pull(image))) as NodeJS.ReadableStream;
    const errors = await errorLines(stream);
    if (errors.length) throw new EngineError(`Docker could not pull ${image}: ${errors.join('; ')}`);
  }

  /**
   * The port the app listens on: the image's `io.slipway.port` label when it has one (an image exposing
   * several ports, such as one built on nginx, which exposes 80), else the lowest TCP port it exposes.
   */
  async exposedPort(image: string): Promise<number | null> {
    const info = await this.c.call('inspect image', () => this.c.docker.getImage(image).inspect());
    const labelled = Number(info.Config?.Labels?.[PORT_LABEL]);
    if (Number.isInteger(labelled) && labelled > 0 && labelled < 65536) return labelled;
    const ports = Object.keys(info.Config?.ExposedPorts ?? {})
      .filter((p) => p.endsWith('/tcp'))
      .map((p) => Number.parseInt(p, 10))
      .filter((p) => Number.isInteger(p) && p > 0)
      .sort((a, b) => a - b);
    return ports[0] ?? null;
  }

  /** The image's id, or null when the engine has no image by that name. */
  async id(image: string): Promise<string | null> {
    try {
      return (await this.c.docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect image', err);
    }
  }

  /** Removes an image only when it carries Slipway's labels. */
  async removeOwn(image: string): Promise<boolean> {
    try {
      const info = await this.c.docker.getImage(image).inspect();
      const labels = info.Config?.Labels ?? {};
      if (!labels[LABEL.app] || (this.c.instance && labels[LABEL.instance] !== this.c.instance)) return false;
      await this.c.docker.getImage(image).remove({ force: false });
      return true;
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 409) return false;
      throw engineError('remove image', err);
    }
  }

  /** For images already proven the app's by their labels (`list` filters on them). */
  async removeById(id: string): Promise<void> {
    try {
      await this.c.docker.getImage(id).remove({ force: true });
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('remove image', err);
    }
  }

  /** Tags `image` as `target` and pushes it (to SLIPWAY_REGISTRY, logged in when `login`), failing on the push's error lines. */
  async push(image: string, target: string, login?: RegistryLogin): Promise<void> {
    const [repo, tag] = splitRef(target);
    await this.c.call('tag image', () => this.c.docker.getImage(image).tag({ repo, tag }));
    const stream = (await this.c.call('push image', () => this.c.docker.getImage(target).push({ tag, ...(login ? { authconfig: login } : {}) }))) as NodeJS.ReadableStream;
    const errors = await errorLines(stream);
    if (errors.length) throw new EngineError(`Docker could not push ${target}: ${errors.join('; ')}`);
  }

  /** Images Slipway built for an app (by label), newest first. */
  async list(app?: string): Promise<Array<{ id: string; tags: string[]; labels: Record<string, string>; created: number }>> {
    const label = this.c.scoped(app ? [`${LABEL.app}=${app}`] : [LABEL.app]);
    const list = await this.c.call('list images', () => this.c.docker.listImages({ filters: { label } }));
    return list
      .map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {}, created: i.Created }))
      .sort((a, b) => b.created - a.created);
  }
}

function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}

/** The CFS period build steps get their CPU quota in (Docker's default). */
const CPU_PERIOD_US = 100_000;

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
