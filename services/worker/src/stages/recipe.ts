/**
 * How an app is built and run, decided from its files (SPEC §3, issue 15): its kind, the template for it,
 * and the command that starts it. The app's `kind` setting overrides the guess.
 */
import { readFile } from 'node:fs/promises';
import type { AppKind } from '@slipway/contracts/app';
import { installPath } from '@slipway/runtime/install-root';
import { PipelineError } from '../errors';
import { existsInside, readInside, readManifest } from './tree';

export const TEMPLATE_PATH = installPath('templates', 'Dockerfile.node');
export const SITE_TEMPLATE_PATH = installPath('templates', 'Dockerfile.static');

/**
 * `dockerfile` when the app brings one; a `frontend` when it has a build (a Makefile `build` target or a
 * `build` script) and nothing to start; a `static` site when it has an index.html at its root and
 * nothing to build or start; else `node`.
 */
export async function detectKind(dir: string, override?: AppKind): Promise<AppKind> {
  if (override) return override;
  if (await existsInside(dir, 'Dockerfile')) return 'dockerfile';
  if (await startCommand(dir)) return 'node';
  const scripts = ((await readManifest(dir))?.scripts ?? {}) as Record<string, unknown>;
  if ((await makefileHasTarget(dir, 'build')) || typeof scripts.build === 'string') return 'frontend';
  if (await existsInside(dir, 'index.html')) return 'static';
  return 'node';
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
  const command = await startCommand(dir);
  if (!command) {
    throw new PipelineError(
      'build_failed',
      'Nothing to start: add a "start" script or "main" to package.json, a "start" target to the Makefile, an index.js, or a Dockerfile (a static site needs an index.html at its root, a front-end a build that makes one)',
    );
  }
  return `#!/bin/sh\n# Written by Slipway: how this app starts.\nexec ${command}\n`;
}

async function startCommand(dir: string): Promise<string | null> {
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
  return command;
}

async function makefileHasTarget(dir: string, target: string): Promise<boolean> {
  const makefile = (await readInside(dir, 'Makefile'))?.toString('utf8') ?? null;
  return makefile !== null && new RegExp(`^${target}\\s*:`, 'm').test(makefile);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}


/**
 * The static-site template (templates/Dockerfile.static): a front-end keeps its build step (between
 * `# slipway:frontend-build` and `# slipway:end`), a static site has nothing to build.
 */
export async function siteTemplateFor(kind: 'static' | 'frontend'): Promise<string> {
  const template = await readFile(SITE_TEMPLATE_PATH, 'utf8');
  return kind === 'frontend' ? template : template.replace(/^# slipway:frontend-build\n[\s\S]*?^# slipway:end\n/m, '');
}
