/**
 * bench/bump: a version bump with the same dependencies (issue 13). An Express app (what the issue
 * measured) or one with a single small dependency (`ms`), with its lockfile, is deployed through Slipway
 * as 1.0.0 (its install layer cold: the package name is new each run), then as 1.0.1 with a one-line code change. Beside it, in the same run, raw `docker build` of the
 * same template with the manifests copied as they are (what Slipway did before): there the bump busts the
 * `npm ci` layer. Printed: each second build against its first.
 *
 *   npx tsx bench/bump.ts [runs=3] [express|ms]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { upload, waitForDeploy } from '../test/helpers/api';
import { tarOf, type Entry } from '../test/helpers/archives';
import { removeOwned, startSlipway } from '../test/helpers/slipway';
import { startScript, templateFor } from '../services/worker/src/stages/recipe';
import { median, saveResult } from './lib';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 3);
const which = process.argv[3] ?? 'express';
if (which !== 'express' && which !== 'ms') throw new Error('dependencies: express or ms');

/**
 * The dependencies: `ms` (one small package, its lockfile written here) or `express` (the issue's own
 * measurement used an Express app; ~60 packages, its lockfile resolved once from the registry with
 * `npm install --package-lock-only`).
 */
type Deps = { dependencies: Record<string, string>; packages: Record<string, unknown>; use: string };

const MS: Deps = {
  dependencies: { ms: '2.1.3' },
  packages: {
    'node_modules/ms': {
      version: '2.1.3',
      resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
      integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
      license: 'MIT',
    },
  },
  use: "const ms = require('ms'); require('node:http').createServer((q, s) => s.end(GREETING + ' ' + ms(60000))).listen(process.env.PORT);",
};

async function expressDeps(): Promise<Deps> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-bump-lock-'));
  const dependencies = { express: '4.21.2' };
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'lock', version: '1.0.0', dependencies }));
  await run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: dir });
  const lock = JSON.parse(await readFile(path.join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  await rm(dir, { recursive: true, force: true });
  const { '': _root, ...packages } = lock.packages;
  return {
    dependencies,
    packages,
    use: "const app = require('express')(); app.get('/', (q, s) => s.send(GREETING)); app.listen(process.env.PORT);",
  };
}

function app(name: string, version: string, greeting: string, deps: Deps): Entry[] {
  const pkg = { name, version, private: true, scripts: { start: 'node server.js' }, dependencies: deps.dependencies };
  const lock = { name, version, lockfileVersion: 3, requires: true, packages: { '': { name, version, dependencies: deps.dependencies }, ...deps.packages } };
  return [
    { name: 'package.json', content: JSON.stringify(pkg, null, 2) },
    { name: 'package-lock.json', content: JSON.stringify(lock, null, 2) },
    { name: 'server.js', content: `const GREETING = ${JSON.stringify(greeting)};\n${deps.use}\n` },
  ];
}

/** The template's context as Slipway sent it before issue 13: the manifests copied unchanged. */
async function rawBuild(entries: Entry[], tag: string): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-bump-'));
  for (const e of entries) await writeFile(path.join(dir, e.name), e.content ?? '');
  await mkdir(path.join(dir, '.slipway', 'deps'), { recursive: true });
  // The template as Slipway sends it for this app.
  await writeFile(path.join(dir, '.slipway', 'Dockerfile'), await templateFor(dir));
  await writeFile(path.join(dir, '.slipway', 'start.sh'), await startScript(dir), { mode: 0o755 });
  await writeFile(path.join(dir, '.slipway', 'deps', '.keep'), '');
  for (const f of ['package.json', 'package-lock.json']) await cp(path.join(dir, f), path.join(dir, '.slipway', 'deps', f));
  const began = performance.now();
  await run('docker', ['build', '-q', '-f', path.join(dir, '.slipway/Dockerfile'), '--build-arg', 'BASE_IMAGE=node:20-slim', '-t', tag, dir]);
  const ms = performance.now() - began;
  await rm(dir, { recursive: true, force: true });
  return ms;
}

async function slipwayDeploy(url: string, entries: Entry[]): Promise<number> {
  const began = performance.now();
  const res = await upload(url, await tarOf(entries), 'app.tgz');
  const done = await waitForDeploy(url, res.body.deploy.id, 300_000);
  if (done.status !== 'succeeded') throw new Error(`deploy failed: ${done.error?.message}`);
  return performance.now() - began;
}

const deps = which === 'express' ? await expressDeps() : MS;
const slipway = await startSlipway();
const ours: number[] = [];
const raw: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const name = `bump${randomBytes(3).toString('hex')}`;
    const first = await slipwayDeploy(slipway.url, app(name, '1.0.0', 'hello', deps));
    const second = await slipwayDeploy(slipway.url, app(name, '1.0.1', 'hi', deps));
    ours.push(second / first);
    const rawName = `bumpraw${randomBytes(3).toString('hex')}`;
    const rawFirst = await rawBuild(app(rawName, '1.0.0', 'hello', deps), `slipway-bench-bump:${rawName}-1`);
    const rawSecond = await rawBuild(app(rawName, '1.0.1', 'hi', deps), `slipway-bench-bump:${rawName}-2`);
    raw.push(rawSecond / rawFirst);
    console.log(`run ${i + 1}: Slipway ${Math.round(first)} → ${Math.round(second)} ms (${(second / first).toFixed(2)}×); raw docker build, manifests as they are ${Math.round(rawFirst)} → ${Math.round(rawSecond)} ms (${(rawSecond / rawFirst).toFixed(2)}×)`);
  }
  console.log(`${which}: median second/first: Slipway ${median(ours).toFixed(2)}× (goal ≤ 0.4×), raw docker with unnormalised manifests ${median(raw).toFixed(2)}×`);
  await saveResult('bump', { runs, dependencies: which, ours, raw });
} finally {
  await slipway.stop();
  await removeOwned('slipway-bench-bump');
  // The raw side's images carry no Slipway label.
  const ids = [...new Set((await run('docker', ['images', '-q', 'slipway-bench-bump'])).stdout.split('\n').filter(Boolean))];
  if (ids.length) await run('docker', ['rmi', '-f', ...ids]).catch(() => {});
}
process.exit(0);
