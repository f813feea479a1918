/**
 * Stage 2: an image `<prefix><app>:<version>` from the app's own Dockerfile, the Node template, or the
 * static-site template (SPEC §3; which one: stages/recipe.ts). The build context is packed here,
 * honouring .dockerignore like the docker CLI does.
 */
import path from 'node:path';
import dockerignore from '@balena/dockerignore';
import type { AppKind } from '@slipway/contracts/app';
import type { Readable } from 'node:stream';
import * as tarFs from 'tar-fs';
import type { Headers } from 'tar-fs';
import type { Engine } from '../docker/engine';
import { BuildError, EngineError } from '../docker/engine';
import { PipelineError } from '../errors';
import { containBuild, refuseHostFetches, requireLabels, type BuildSettings } from './contain';
import { escapeChar } from './dockerfile';
import { DEPENDENCY_MANIFESTS, installManifest } from './manifests';
import { detectKind, siteTemplateFor, startScript, templateFor } from './recipe';
import { siteLine, siteServerFiles, type ContextFile } from './site-server';
import { readInside } from './tree';
import type { SourceDir } from './unpack';

export interface BuildInput {
  source: SourceDir;
  image: string;
  labels: Record<string, string>;
  baseImage: string;
  /** What serves a static site or a front-end's output (nginx). */
  siteImage: string;
  timeoutMs: number;
  limits: BuildSettings;
  /** The app's `kind` and `outputDir` settings, when set. */
  kind?: AppKind | undefined;
  outputDir?: string | undefined;
}

export interface BuiltImage {
  image: string;
  imageId: string;
  /** How it was built; unknown for an image kept from before Slipway recorded it. */
  kind?: AppKind;
  /** A site's served folder and its file count. */
  site?: { dir: string; files: number };
}

const MAX_DOCKERFILE_BYTES = 1024 * 1024;
/** Never part of a template build: dependencies are installed inside the image, history is not needed. */
const TEMPLATE_IGNORES = ['node_modules', '.git'];

export async function build(engine: Engine, input: BuildInput, onLine: (line: string) => void): Promise<BuiltImage> {
  const dir = input.source.dir;
  const kind = await detectKind(dir, input.kind);
  const own = kind === 'dockerfile' ? ((await readInside(dir, 'Dockerfile'))?.toString('utf8') ?? null) : null;
  if (kind === 'dockerfile' && own === null) throw new PipelineError('build_failed', 'The app\'s kind is "dockerfile" but the archive has no Dockerfile at its root');
  if (own !== null && Buffer.byteLength(own) > MAX_DOCKERFILE_BYTES) throw new PipelineError('build_failed', 'The Dockerfile is larger than 1 MiB');
  const source = own ?? (kind === 'node' ? await templateFor(dir) : await siteTemplateFor(kind as 'static' | 'frontend'));
  const buildargs: Record<string, string> = kind === 'dockerfile' ? {} : { BASE_IMAGE: input.baseImage };
  // A static site serves its root; a front-end the folder its build made (outputDir, else the usual ones).
  if (kind === 'static' || kind === 'frontend') buildargs.SITE_IMAGE = input.siteImage;
  if (kind === 'static') buildargs.OUTPUT_DIR = input.outputDir ?? '.';
  else if (kind === 'frontend' && input.outputDir) buildargs.OUTPUT_DIR = input.outputDir;
  await refuseHostFetches(engine, source, buildargs);
  const dockerfile = withLabels(source, input.labels);
  const context = await packContext(dir, dockerfile, kind);
  onLine(own !== null ? "Building with the app's own Dockerfile" : `Building as ${KIND_NAMES[kind]} (base image ${input.baseImage})`);
  const contained = await containBuild(engine, input.limits, input.labels, onLine);
  let site: BuiltImage['site'];
  const tail = new BuildTail();
  try {
    const { imageId } = await engine.images.build(
      context,
      { tag: input.image, dockerfile: '.slipway/Dockerfile', buildargs, timeoutMs: input.timeoutMs, limits: contained.limits },
      (line) => {
        if (kind === 'static' || kind === 'frontend') site = siteLine(line) ?? site;
        tail.push(line);
        onLine(line);
      },
    );
    await requireLabels(engine, imageId, input.labels);
    return { image: input.image, imageId, kind, ...(site ? { site } : {}) };
  } catch (err) {
    if (err instanceof BuildError && !err.timedOut) {
      // A step killed or a stream cut short is what an engine going down looks like: watch it for a few
      // seconds. Any other builder error is the app's, unless the engine is not answering right now.
      const suspect = err.cut || KILLED.test(err.message);
      if (suspect ? await engineStopping(engine) : !(await engine.ping(1000))) {
        throw new PipelineError('engine_error', `The Docker engine stopped during the build (${err.message.slice(-60)})`, true);
      }
      if (!KILLED.test(err.message)) throw new PipelineError('build_failed', tail.withMessage(err.message));
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

const KIND_NAMES: Record<AppKind, string> = {
  dockerfile: 'its own Dockerfile',
  node: 'a Node app with the Node template',
  static: 'a static site (its files as they are, served by nginx)',
  frontend: 'a front-end (its build, then the output served by nginx)',
};

/**
 * The step's own last words: the builder's error only says which command failed and its exit code, while
 * what the user needs ("cannot find module …") is in the lines the step printed before.
 */
class BuildTail {
  private readonly lines: string[] = [];

  push(line: string): void {
    if (/^(Step \d+\/\d+ :| ---> |Removing intermediate container|Successfully )/.test(line) || !line.trim()) return;
    this.lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (this.lines.length > 12) this.lines.shift();
  }

  withMessage(message: string): string {
    const said = this.lines.filter((l) => l !== message);
    return said.length ? `${message}\nLast lines of the build:\n${said.join('\n')}` : message;
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
export async function packContext(dir: string, dockerfile: string, kind: AppKind): Promise<Readable> {
  const template = kind !== 'dockerfile';
  const ignored = await ignoreFilter(dir, template ? TEMPLATE_IGNORES : []);
  const extra: ContextFile[] = [{ name: '.slipway/Dockerfile', content: dockerfile }];
  if (template) {
    extra.push({ name: '.slipway/deps/.keep', content: '' });
    for (const name of DEPENDENCY_MANIFESTS) {
      const content = await readInside(dir, name);
      if (content) extra.push({ name: `.slipway/deps/${name}`, content: installManifest(name, content) });
    }
  }
  if (kind === 'node') extra.push({ name: '.slipway/start.sh', content: await startScript(dir), mode: 0o755 });
  if (kind === 'static' || kind === 'frontend') extra.push(...(await siteServerFiles()));
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

/** Files enter the image owned by root, whatever uid the archive carried. */
function owned(header: Headers): Headers {
  return Object.assign(header, { uid: 0, gid: 0, uname: 'root', gname: 'root' });
}
