/**
 * Stage 2: an image `<prefix><app>:<version>` from the app's own Dockerfile, or from the Node template
 * (SPEC §3). The build context is packed here, honouring .dockerignore like the docker CLI does.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import dockerignore from '@balena/dockerignore';
import { installPath } from '@slipway/runtime/install-root';
import type { Readable } from 'node:stream';
import * as tarFs from 'tar-fs';
import type { Headers } from 'tar-fs';
import type { Engine } from '../docker/engine';
import { BuildError, EngineError } from '../docker/engine';
import { PipelineError } from '../errors';
import { containBuild, refuseHostFetches, requireLabels, type BuildSettings } from './contain';
import { escapeChar } from './dockerfile';
import { DEPENDENCY_MANIFESTS, installManifest } from './manifests';
import { existsInside, readInside, readManifest } from './tree';
import type { SourceDir } from './unpack';

export const TEMPLATE_PATH = installPath('templates', 'Dockerfile.node');

export interface BuildInput {
  source: SourceDir;
  image: string;
  labels: Record<string, string>;
  baseImage: string;
  timeoutMs: number;
  limits: BuildSettings;
}

export interface BuiltImage {
  image: string;
  imageId: string;
}

const MAX_DOCKERFILE_BYTES = 1024 * 1024;
/** Never part of a template build: dependencies are installed inside the image, history is not needed. */
const TEMPLATE_IGNORES = ['node_modules', '.git'];

export async function build(engine: Engine, input: BuildInput, onLine: (line: string) => void): Promise<BuiltImage> {
  const dir = input.source.dir;
  const own = (await readInside(dir, 'Dockerfile'))?.toString('utf8') ?? null;
  if (own !== null && Buffer.byteLength(own) > MAX_DOCKERFILE_BYTES) throw new PipelineError('build_failed', 'The Dockerfile is larger than 1 MiB');
  const source = own ?? (await templateFor(dir));
  const buildargs: Record<string, string> = own !== null ? {} : { BASE_IMAGE: input.baseImage };
  await refuseHostFetches(engine, source, buildargs);
  const dockerfile = withLabels(source, input.labels);
  const context = await packContext(dir, dockerfile, own === null);
  onLine(own !== null ? "Building with the app's own Dockerfile" : `Building with the Node template (base image ${input.baseImage})`);
  const contained = await containBuild(engine, input.limits, input.labels, onLine);
  try {
    const { imageId } = await engine.images.build(
      context,
      { tag: input.image, dockerfile: '.slipway/Dockerfile', buildargs, timeoutMs: input.timeoutMs, limits: contained.limits },
      onLine,
    );
    await requireLabels(engine, imageId, input.labels);
    return { image: input.image, imageId };
  } catch (err) {
    if (err instanceof BuildError && !err.timedOut) {
      // A step killed or a stream cut short is what an engine going down looks like: watch it for a few
      // seconds. Any other builder error is the app's, unless the engine is not answering right now.
      const suspect = err.cut || KILLED.test(err.message);
      if (suspect ? await engineStopping(engine) : !(await engine.ping(1000))) {
        throw new PipelineError('engine_error', `The Docker engine stopped during the build (${err.message.slice(-60)})`, true);
      }
      if (!KILLED.test(err.message)) throw new PipelineError('build_failed', err.message);
      const limit = Math.round(input.limits.memoryBytes / 1048576);
      throw new PipelineError('build_failed', `${err.message}\nExit code 137: the step was killed, most often for using more than the build's ${limit} MiB of memory (SLIPWAY_BUILD_MEMORY_MB)`);
    }
    if (err instanceof BuildError) throw new PipelineError(err.timedOut ? 'build_timeout' : 'build_failed', err.message);
    if (err instanceof EngineError) throw new PipelineError('engine_error', err.message, true);
    throw err;
  } finally {
    await contained.release();
  }
}

/** A step killed by SIGKILL: out of memory, or the engine shutting down and taking the build with it. */
const KILLED = /returned a non-zero code: 137\b/;

/** Whether the engine stops answering in the next few seconds: then a killed step was its doing, not the app's. */
async function engineStopping(engine: Engine): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if (!(await engine.ping(1000))) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/**
 * The image's labels as one LABEL line at the end of the Dockerfile: the builder's `labels` option adds
 * one step per label, each a container and a commit. The values are validated names, versions and ids.
 * A last instruction ending in the escape character would continue into the LABEL line and swallow it;
 * at the end of the file that continuation means nothing, so it is dropped (comments and blank lines
 * after it do not end a continuation, so they are looked past).
 */
export function withLabels(dockerfile: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const escape = escapeChar(dockerfile);
  const lines = dockerfile.replace(/\s*$/, '').split('\n');
  const last = lines.findLastIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (last >= 0) lines[last] = lines[last]!.replace(/\s*$/, '').replace(new RegExp(`${escape === '\\' ? '\\\\' : escape}+$`), '');
  return `${lines.join('\n')}\n\n# Added by Slipway\nLABEL ${pairs.join(' ')}\n`;
}

/**
 * The app's files, filtered by its .dockerignore as the docker CLI does, plus `.slipway/`: the Dockerfile
 * to build (the app's own or the template, with Slipway's labels). For the template also the dependency
 * manifests alone, normalised (so `npm ci` is cached until the dependencies change), and the start script. The .dockerignore itself
 * is not sent, so the builder cannot apply it a second time and hide `.slipway/`.
 */
export async function packContext(dir: string, dockerfile: string, template: boolean): Promise<Readable> {
  const ignored = await ignoreFilter(dir, template ? TEMPLATE_IGNORES : []);
  const extra: Array<{ name: string; content: Buffer | string; mode?: number }> = [{ name: '.slipway/Dockerfile', content: dockerfile }];
  if (template) {
    extra.push({ name: '.slipway/start.sh', content: await startScript(dir), mode: 0o755 }, { name: '.slipway/deps/.keep', content: '' });
    for (const name of DEPENDENCY_MANIFESTS) {
      const content = await readInside(dir, name);
      if (content) extra.push({ name: `.slipway/deps/${name}`, content: installManifest(name, content) });
    }
  }
  return tarFs.pack(dir, {
    // A link travels as a link, never as the file it names: the context holds only the app's own files.
    dereference: false,
    ignore: (name) => {
      const rel = path.relative(dir, name);
      return rel === '.dockerignore' || rel === '.slipway' || rel.startsWith('.slipway/') || ignored(rel);
    },
    map: owned,
    finalize: false,
    finish(pack) {
      for (const e of extra) pack.entry({ name: e.name, mode: e.mode ?? 0o644, uid: 0, gid: 0, mtime: new Date(0) }, e.content);
      pack.finalize();
    },
  }) as unknown as Readable;
}

async function ignoreFilter(dir: string, extra: string[]): Promise<(rel: string) => boolean> {
  const rules = (await readInside(dir, '.dockerignore'))?.toString('utf8') ?? '';
  const ig = dockerignore({ ignorecase: false }).add(rules).add(extra);
  return (rel) => ig.ignores(rel);
}

/**
 * The Node template for this app: without its source step (between `# slipway:source-step` and
 * `# slipway:end`) when the app has no Makefile, no build script and no dev dependencies, which is
 * decided here, from the files, rather than by a build step that would cost its run and commit anyway.
 */
export async function templateFor(dir: string): Promise<string> {
  const template = await readFile(TEMPLATE_PATH, 'utf8');
  const pkg = await readManifest(dir);
  const scripts = (pkg?.scripts ?? {}) as Record<string, unknown>;
  const devDependencies = (pkg?.devDependencies ?? {}) as Record<string, unknown>;
  const work = (await existsInside(dir, 'Makefile')) || typeof scripts.build === 'string' || Object.keys(devDependencies).length > 0;
  return work ? template : template.replace(/^# slipway:source-step\n[\s\S]*?^# slipway:end\n/m, '');
}

/** SPEC §3: `npm start`, else `node <main>`, else the Makefile's `start`, else index.js/server.js. */
export async function startScript(dir: string): Promise<string> {
  const pkg = await readManifest(dir);
  const scripts = (pkg?.scripts ?? {}) as Record<string, unknown>;
  let command: string | null = null;
  if (typeof scripts.start === 'string' && scripts.start.trim()) command = 'npm start';
  else if (typeof pkg?.main === 'string' && pkg.main.trim() && ((await existsInside(dir, pkg.main)) || (await existsInside(dir, `${pkg.main}.js`)))) {
    command = `node ${shellQuote(pkg.main)}`;
  }
  else if (await makefileHasTarget(dir, 'start')) command = 'make start';
  else if (await existsInside(dir, 'index.js')) command = 'node index.js';
  else if (await existsInside(dir, 'server.js')) command = 'node server.js';
  if (!command) {
    throw new PipelineError(
      'build_failed',
      'Nothing to start: add a "start" script or "main" to package.json, a "start" target to the Makefile, an index.js, or a Dockerfile',
    );
  }
  return `#!/bin/sh\n# Written by Slipway: how this app starts.\nexec ${command}\n`;
}

async function makefileHasTarget(dir: string, target: string): Promise<boolean> {
  const makefile = (await readInside(dir, 'Makefile'))?.toString('utf8') ?? null;
  return makefile !== null && new RegExp(`^${target}\\s*:`, 'm').test(makefile);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Files enter the image owned by root, whatever uid the archive carried. */
function owned(header: Headers): Headers {
  return Object.assign(header, { uid: 0, gid: 0, uname: 'root', gname: 'root' });
}
