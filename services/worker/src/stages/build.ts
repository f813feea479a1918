/**
 * Stage 2: an image `<prefix><app>:<version>` from the app's own Dockerfile, or from the Node template
 * (SPEC §3). The build context is packed here, honouring .dockerignore like the docker CLI does.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dockerignore from '@balena/dockerignore';
import type { Readable } from 'node:stream';
import * as tarFs from 'tar-fs';
import type { Headers } from 'tar-fs';
import type { Engine } from '../docker/engine';
import { BuildError, EngineError } from '../docker/engine';
import { PipelineError } from '../errors';
import type { SourceDir } from './unpack';
import { readManifest } from './unpack';

export const TEMPLATE_PATH = fileURLToPath(new URL('../../../../templates/Dockerfile.node', import.meta.url));

export interface BuildInput {
  source: SourceDir;
  image: string;
  labels: Record<string, string>;
  baseImage: string;
  timeoutMs: number;
}

export interface BuiltImage {
  image: string;
  imageId: string;
  template: boolean;
}

/** Manifests the template installs in their own cached layer. */
const DEPENDENCY_MANIFESTS = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'];
/** Never part of a template build: dependencies are installed inside the image, history is not needed. */
const TEMPLATE_IGNORES = ['node_modules', '.git'];

export async function build(engine: Engine, input: BuildInput, onLine: (line: string) => void): Promise<BuiltImage> {
  const dir = input.source.dir;
  const own = await exists(path.join(dir, 'Dockerfile'));
  const context = own ? await ownContext(dir) : await templateContext(dir);
  onLine(own ? 'Building with the app\'s own Dockerfile' : `Building with the Node template (base image ${input.baseImage})`);
  try {
    const { imageId } = await engine.build(
      context,
      {
        tag: input.image,
        labels: input.labels,
        dockerfile: own ? 'Dockerfile' : '.slipway/Dockerfile',
        buildargs: own ? {} : { BASE_IMAGE: input.baseImage },
        timeoutMs: input.timeoutMs,
      },
      onLine,
    );
    return { image: input.image, imageId, template: !own };
  } catch (err) {
    if (err instanceof BuildError) throw new PipelineError(err.timedOut ? 'build_timeout' : 'build_failed', err.message);
    if (err instanceof EngineError) throw new PipelineError('engine_error', err.message, true);
    throw err;
  }
}

async function ignoreFilter(dir: string, extra: string[] = []): Promise<(rel: string) => boolean> {
  const rules = await readFile(path.join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const ig = dockerignore({ ignorecase: false }).add(rules).add(extra);
  return (rel) => ig.ignores(rel);
}

/** Like `docker build`: .dockerignore applies, but Dockerfile and .dockerignore are always sent. */
async function ownContext(dir: string): Promise<Readable> {
  const ignored = await ignoreFilter(dir);
  return tarFs.pack(dir, {
    ignore: (name) => {
      const rel = path.relative(dir, name);
      return rel !== 'Dockerfile' && rel !== '.dockerignore' && ignored(rel);
    },
    map: owned,
  }) as unknown as Readable;
}

/**
 * The app's files plus `.slipway/`: the template as Dockerfile, the dependency manifests alone
 * (so `npm ci` is cached until they change) and the start script chosen from package.json / Makefile.
 * The app's .dockerignore is applied here and not sent, so it cannot hide `.slipway/` from the builder.
 */
async function templateContext(dir: string): Promise<Readable> {
  const ignored = await ignoreFilter(dir, TEMPLATE_IGNORES);
  const template = await readFile(TEMPLATE_PATH);
  const start = await startScript(dir);
  const manifests: Array<{ name: string; content: Buffer }> = [];
  for (const name of DEPENDENCY_MANIFESTS) {
    const content = await readFile(path.join(dir, name)).catch(() => null);
    if (content) manifests.push({ name, content });
  }
  return tarFs.pack(dir, {
    ignore: (name) => {
      const rel = path.relative(dir, name);
      return rel === '.dockerignore' || rel === '.slipway' || rel.startsWith('.slipway/') || ignored(rel);
    },
    map: owned,
    finalize: false,
    finish(pack) {
      const add = (name: string, content: Buffer | string, mode = 0o644) =>
        pack.entry({ name, mode, uid: 0, gid: 0, mtime: new Date(0) }, content);
      add('.slipway/Dockerfile', template);
      add('.slipway/start.sh', start, 0o755);
      add('.slipway/deps/.keep', '');
      for (const m of manifests) add(`.slipway/deps/${m.name}`, m.content);
      pack.finalize();
    },
  }) as unknown as Readable;
}

/** SPEC §3: `npm start`, else `node <main>`, else the Makefile's `start`, else index.js/server.js. */
export async function startScript(dir: string): Promise<string> {
  const pkg = await readManifest(dir);
  const scripts = (pkg?.scripts ?? {}) as Record<string, unknown>;
  let command: string | null = null;
  if (typeof scripts.start === 'string' && scripts.start.trim()) command = 'npm start';
  else if (typeof pkg?.main === 'string' && pkg.main.trim() && (await exists(path.join(dir, pkg.main)))) command = `node ${shellQuote(pkg.main)}`;
  else if (await makefileHasTarget(dir, 'start')) command = 'make start';
  else if (await exists(path.join(dir, 'index.js'))) command = 'node index.js';
  else if (await exists(path.join(dir, 'server.js'))) command = 'node server.js';
  if (!command) {
    throw new PipelineError(
      'build_failed',
      'Nothing to start: add a "start" script or "main" to package.json, a "start" target to the Makefile, an index.js, or a Dockerfile',
    );
  }
  return `#!/bin/sh\n# Written by Slipway: how this app starts.\nexec ${command}\n`;
}

async function makefileHasTarget(dir: string, target: string): Promise<boolean> {
  const makefile = await readFile(path.join(dir, 'Makefile'), 'utf8').catch(() => null);
  return makefile !== null && new RegExp(`^${target}\\s*:`, 'm').test(makefile);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Files enter the image owned by root, whatever uid the archive carried. */
function owned(header: Headers): Headers {
  return Object.assign(header, { uid: 0, gid: 0, uname: 'root', gname: 'root' });
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
