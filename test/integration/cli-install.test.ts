/**
 * The CLI installs like a user would install it (issue 13 item 4): `npm pack` of packages/cli, then
 * `npm i -g` of that tarball into an empty prefix with an empty cache and --offline, so a single
 * dependency the bundle failed to inline would make the install (or the first run) fail. The installed
 * `slipway` runs from outside the checkout against a real Slipway.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaGateway } from '../helpers/api';
import { FIXTURES } from '../helpers/archives';
import { CLI_DIR } from '../helpers/cli';
import { startSlipway, type Slipway } from '../helpers/slipway';

const run = promisify(execFile);
const ROOT = path.join(CLI_DIR, '..', '..');
const manifest = JSON.parse(await readFile(path.join(CLI_DIR, 'package.json'), 'utf8')) as { name: string; version: string };

let slipway: Slipway;
let tmp = '';
let prefix = '';
let packed: { filename: string; files: Array<{ path: string }> };

// npm's own settings from a parent `npm test` (prefix, cache, workspace) must not leak into the install.
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function slipwayCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(path.join(prefix, 'bin', 'slipway'), args, {
      cwd: tmp,
      env: {
        ...cleanEnv(),
        PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
        XDG_CONFIG_HOME: path.join(tmp, 'config'),
        SLIPWAY_URL: slipway?.url ?? 'http://127.0.0.1:1',
        SLIPWAY_TOKEN: slipway?.token ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'slipway-cli-install-'));
  prefix = path.join(tmp, 'prefix');
  // The package's prepack script builds the bundle that goes in.
  const pack = await run('npm', ['pack', '--workspace', 'packages/cli', '--pack-destination', tmp, '--json'], { cwd: ROOT, env: cleanEnv() });
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
  await run('npm', ['install', '--global', '--prefix', prefix, '--cache', path.join(tmp, 'cache'), '--offline', '--no-audit', '--no-fund', path.join(tmp, packed.filename)], {
    cwd: tmp,
    env: cleanEnv(),
  });
  slipway = await startSlipway();
});

afterAll(async () => {
  await slipway?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('slipway installed from its tarball', () => {
  it('packs only the bundle, its source map, the licences it inlines and its manifest', () => {
    expect(packed.filename).toBe(`slipway-cli-${manifest.version}.tgz`);
    expect(packed.files.map((f) => f.path).sort()).toEqual(['README.md', 'bin/slipway.js', 'dist/THIRD-PARTY-LICENSES.txt', 'dist/slipway.js', 'dist/slipway.js.map', 'package.json']);
  });

  it('installs with nothing to fetch: no dependencies next to it', async () => {
    const installed = path.join(prefix, 'lib', 'node_modules', ...manifest.name.split('/'));
    expect(await readdir(path.join(prefix, 'lib', 'node_modules'))).toEqual([manifest.name.split('/')[0]]);
    expect(await readdir(installed)).not.toContain('node_modules');
    const shipped = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { dependencies?: object };
    expect(shipped.dependencies ?? {}).toEqual({});
  });

  it('prints the version from package.json', async () => {
    const res = await slipwayCli(['--version']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(manifest.version);
  });

  it('lists apps, deploys a folder following its build log, and lists it', async () => {
    const empty = await slipwayCli(['apps']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout.trim()).toMatch(/^APP\s+VERSION\s+STATUS\s+URL$/);

    const deploy = await slipwayCli(['deploy', path.join(FIXTURES, 'hello'), '--version', '1.0.0']);
    expect(deploy.stderr).toBe('');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toMatch(/Packed \d+ entries/);
    // Stages and the build log come over the deploy's SSE stream.
    expect(deploy.stdout).toContain('==> build');
    expect(deploy.stdout).toMatch(/^ {4}Step \d+\/\d+ : FROM/m);
    expect(deploy.stdout).toContain(`hello 1.0.0 is live at http://hello.localhost:${slipway.env.SLIPWAY_GATEWAY_PORT}/`);
    expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).text.trim()).toBe('hello 1.0.0');

    const apps = await slipwayCli(['apps']);
    expect(apps.stdout).toMatch(/^hello\s+1\.0\.0\s+running\s+http:\/\/hello\.localhost:\d+\/$/m);
  });
});
