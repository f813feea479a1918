/**
 * Contained builds and apps (issue 12, item 4; SPEC §3 "Networks"). A build runs with memory, CPU and pid
 * limits, on a network of its own, and cannot fetch anything from the host's loopback through the engine
 * (`ADD <url>`, a base image's `ONBUILD ADD`); each app runs on a network of its own, so one app's
 * container cannot reach another's. Slipway's Redis here listens on loopback only, as the embedded one does.
 * Also: a Dockerfile ending in a line continuation still gets Slipway's labels (issue 12, Low).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import getPort from 'get-port';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readSse, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { fixtureEntries, tarOf, type Entry } from '../helpers/archives';
import { docker, removeOwnedNetworks, startSlipway, type Slipway } from '../helpers/slipway';
import { Engine } from '../../services/worker/src/docker/engine';

let slipway: Slipway;
let redis: ChildProcess;
let redisPort = 0;
const baseImage = `slipwaytest-onbuild-${randomBytes(3).toString('hex')}:1`;

const BUILD_MEMORY_MB = 256;
const BUILD_PIDS = 128;

/** The hello app, plus a Dockerfile and extra files: a build that succeeds ends in a running app. */
async function app(name: string, dockerfile: string, extra: Entry[] = []): Promise<Buffer> {
  const entries = await fixtureEntries('hello', { name, version: '1.0.0' });
  return tarOf([...entries, ...extra, { name: 'Dockerfile', content: dockerfile }]);
}

async function deploy(archive: Buffer, name: string) {
  const res = await upload(slipway.url, archive, `${name}.tgz`);
  expect(res.status).toBe(202);
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  const events = await readSse(`${slipway.url}/api/deploys/${done.id}/events`);
  const log = events.filter((e) => e.event === 'log').map((e) => String(e.data.line));
  return { done, log };
}

/** The JSON a build step printed after `tag`. */
function printed(log: string[], tag: string): any {
  const line = log.find((l) => l.startsWith(`${tag} `));
  if (!line) throw new Error(`no ${tag} line in the build log:\n${log.join('\n')}`);
  return JSON.parse(line.slice(tag.length + 1));
}

/** Deletes an app and waits until it is gone (a slow delete answers 202 and carries on). */
async function remove(app: string): Promise<void> {
  const res = await call(slipway.url, 'DELETE', `/api/apps/${app}?confirm=${app}`);
  expect([200, 202]).toContain(res.status);
  for (let i = 0; i < 300 && (await call(slipway.url, 'GET', `/api/apps/${app}`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 500));
  expect((await call(slipway.url, 'GET', `/api/apps/${app}`)).status).toBe(404);
}

async function containerOf(app: string) {
  const [c] = await docker.listContainers({ filters: { label: [`io.slipway.app=${app}`, `io.slipway.instance=${slipway.instance}`] } });
  if (!c) throw new Error(`no container for ${app}`);
  const info = await docker.getContainer(c.Id).inspect();
  const networks = Object.entries(info.NetworkSettings.Networks ?? {});
  return { id: c.Id, networks: networks.map(([n]) => n), ip: networks[0]?.[1].IPAddress ?? '' };
}

async function execNode(containerId: string, script: string): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['node', '-e', script], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  docker.modem.demuxStream(stream, stdout, new PassThrough());
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
  await new Promise((resolve) => stream.on('end', resolve));
  return text;
}

/** Node source that tries each `host:port` and prints `<tag> {"host:port":"open"|errno}`; `gw` is the default route. */
const connectProbe = (tag: string, targets: string[]) => `
const net = require('net'), fs = require('fs');
const route = fs.readFileSync('/proc/net/route', 'utf8').split('\\n').map((l) => l.split('\\t')).find((f) => f[1] === '00000000');
const gw = route ? Buffer.from(route[2], 'hex').reverse().join('.') : '0.0.0.0';
const tryOne = (t) => new Promise((r) => {
  const [h, p] = t.replace('gw:', gw + ':').split(':');
  const s = net.connect({ host: h, port: Number(p) }, () => { s.destroy(); r('open'); });
  s.on('error', (e) => r(e.code));
  s.setTimeout(3000, () => { s.destroy(); r('timeout'); });
});
(async () => { const out = {}; for (const t of ${JSON.stringify(targets)}) out[t] = await tryOne(t); console.log('${tag} ' + JSON.stringify(out)); })();
`;

beforeAll(async () => {
  // A Redis on loopback only, like the embedded one (testcontainers would publish it on every address).
  redisPort = await getPort();
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  slipway = await startSlipway({
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    // A generous health timeout: this machine's 2 cores are shared with other test runs.
    env: { SLIPWAY_BUILD_MEMORY_MB: String(BUILD_MEMORY_MB), SLIPWAY_BUILD_CPUS: '1', SLIPWAY_BUILD_PIDS: String(BUILD_PIDS), SLIPWAY_HEALTH_TIMEOUT_S: '60' },
  });
  await Promise.all(
    ['alpha', 'beta'].map(async (name) => {
      const res = await upload(slipway.url, await tarOf(await fixtureEntries('hello', { name, version: '1.0.0' })), `${name}.tgz`);
      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect({ name, status: done.status, error: done.error }).toEqual({ name, status: 'succeeded', error: undefined });
    }),
  );
  // Two deploys on a shared 2-core machine; the limit is the harness's, not a latency goal.
}, 360_000);

afterAll(async () => {
  await slipway?.stop();
  redis?.kill('SIGKILL');
  await docker.getImage(baseImage).remove({ force: true }).catch(() => {});
  // Unlabelled (the bug this file tests for), so the harness's cleanup by label would miss it.
  await docker.getImage(`${slipway?.prefix}trailing:1.0.0`).remove({ force: true }).catch(() => {});
});

describe('build limits', () => {
  it('gives build steps the memory, CPU and pid limits of the settings', async () => {
    const limits = `
const fs = require('fs'), { spawn } = require('child_process');
const read = (...files) => { for (const f of files) { try { return fs.readFileSync(f, 'utf8').trim(); } catch {} } return null; };
const memory = read('/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max');
const quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us');
const cpus = quota && period ? Number(quota) / Number(period) : Number((read('/sys/fs/cgroup/cpu.max') || 'max 1').split(' ')[0]) / Number((read('/sys/fs/cgroup/cpu.max') || '1 1').split(' ')[1]);
const kids = [];
for (let i = 0; i < ${BUILD_PIDS + 72}; i++) { try { const k = spawn('sleep', ['30']); k.on('error', () => {}); kids.push(k); } catch {} }
setTimeout(() => {
  const started = kids.filter((k) => k.pid).length;
  for (const k of kids) if (k.pid) k.kill('SIGKILL');
  console.log('LIMITS ' + JSON.stringify({ memory: Number(memory), cpus, started }));
}, 1000);
`;
    const { done, log } = await deploy(
      await app('limited', 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN node limits.js\nCMD ["node", "server.js"]\n', [{ name: 'limits.js', content: limits }]),
      'limited',
    );
    expect(done.error).toBeUndefined();
    const seen = printed(log, 'LIMITS');
    console.log('build step saw', seen);
    expect(seen.memory).toBe(BUILD_MEMORY_MB * 1024 * 1024);
    expect(seen.cpus).toBe(1);
    expect(seen.started).toBeGreaterThan(0);
    expect(seen.started).toBeLessThan(BUILD_PIDS);
  });

  it('fails a build step that takes more memory than SLIPWAY_BUILD_MEMORY_MB, saying so', async () => {
    const hog = 'const a = []; for (let i = 0; i < 40; i++) a.push(Buffer.alloc(16 * 1024 * 1024, 1)); console.log("allocated 640 MiB");';
    const { done } = await deploy(await app('hog', `FROM node:20-slim\nRUN node -e '${hog}'\nCMD ["node", "-e", "0"]\n`), 'hog');
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('build_failed');
    expect(done.error?.message).toMatch(/SLIPWAY_BUILD_MEMORY_MB/);
  });
});

describe('build network', () => {
  it("refuses an ADD whose source is a URL (the engine would fetch it from the host's loopback)", async () => {
    const apiPort = new URL(slipway.url).port;
    for (const [name, line] of [
      ['adder', `ADD http://127.0.0.1:${apiPort}/healthz /x`],
      ['adder-json', `add ["http://127.0.0.1:${apiPort}/healthz", "/x"]`],
      ['adder-onbuild', `ONBUILD ADD http://127.0.0.1:${apiPort}/healthz /x`],
    ]) {
      const { done } = await deploy(await app(name!, `FROM node:20-slim\nWORKDIR /app\n${line}\nCOPY . .\nCMD ["node", "server.js"]\n`), name!);
      expect({ name, status: done.status, code: done.error?.code }).toEqual({ name, status: 'failed', code: 'build_failed' });
      expect(done.error?.message).toMatch(/ADD/);
    }
  });

  it("refuses a base image whose ONBUILD trigger would ADD a URL", async () => {
    const apiPort = new URL(slipway.url).port;
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, `FROM node:20-slim\nONBUILD ADD http://127.0.0.1:${apiPort}/healthz /x\n`);
    pack.finalize();
    const stream = await docker.buildImage(pack as unknown as NodeJS.ReadableStream, { t: baseImage, labels: { 'io.slipway.test': 'contain' } });
    await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null))));
    const { done } = await deploy(await app('inheritor', `FROM ${baseImage}\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\n`), 'inheritor');
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('build_failed');
    expect(done.error?.message).toMatch(/ONBUILD/);
  });

  it("runs build steps where Slipway's API, Redis, gateway and other apps are out of reach, the internet is not", async () => {
    const beta = await containerOf('beta');
    const betaPort = (await call(slipway.url, 'GET', '/api/apps/beta')).body.app.current.port;
    const ports = [new URL(slipway.url).port, String(redisPort), new URL(slipway.gatewayUrl).port, String(betaPort)];
    const targets = [...ports.flatMap((p) => [`127.0.0.1:${p}`, `gw:${p}`]), `${beta.ip}:3000`];
    const probe = connectProbe('REACH', [...targets, 'registry.npmjs.org:443']);
    const { done, log } = await deploy(
      await app('prober', 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN node reach.js\nCMD ["node", "server.js"]\n', [{ name: 'reach.js', content: probe }]),
      'prober',
    );
    expect(done.error).toBeUndefined();
    const reach = printed(log, 'REACH');
    console.log('build step reached', reach);
    for (const t of targets) expect({ target: t, result: reach[t] }).not.toEqual({ target: t, result: 'open' });
    // The probe itself works: the build can still reach the npm registry (npm ci needs it).
    expect(reach['registry.npmjs.org:443']).toBe('open');
  });
});

describe('app networks', () => {
  it("keeps one app's container from reaching another's, while its own answers and the gateway serves both", async () => {
    const [alpha, beta] = [await containerOf('alpha'), await containerOf('beta')];
    expect(alpha.networks).toHaveLength(1);
    expect(alpha.networks[0]).not.toBe(beta.networks[0]);
    expect(alpha.networks[0]).not.toBe('bridge');
    const network = await docker.getNetwork(alpha.networks[0]!).inspect();
    expect(network.Labels).toMatchObject({ 'io.slipway.app': 'alpha', 'io.slipway.instance': slipway.instance });

    const out = await execNode(alpha.id, connectProbe('REACH', [`${beta.ip}:3000`, `${alpha.ip}:3000`]));
    const reach = JSON.parse(out.slice(out.indexOf('REACH ') + 6));
    console.log('alpha reached', reach);
    expect(reach[`${beta.ip}:3000`]).not.toBe('open');
    expect(reach[`${alpha.ip}:3000`]).toBe('open');

    expect((await viaGateway(slipway.gatewayUrl, 'alpha.localhost')).text.trim()).toBe('alpha 1.0.0');
    expect((await viaGateway(slipway.gatewayUrl, 'beta.localhost')).text.trim()).toBe('beta 1.0.0');
  });

  it('gives networks made at the same moment subnets of their own, and a name one network', async () => {
    const instance = `t${randomBytes(5).toString('hex')}`;
    const engine = new Engine(undefined, instance);
    const labels = { 'io.slipway.managed': 'true', 'io.slipway.instance': instance };
    try {
      // Settled, not raced: a failure must not leave the others to be made after the cleanup.
      const made = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => engine.ensureNetwork(`slipway-race${i}-${instance}`, labels, { icc: true, pool: '10.213.0.0/16' })));
      expect(made.filter((m) => m.status === 'rejected')).toEqual([]);
      const names = made.map((m) => (m as PromiseFulfilledResult<string>).value);
      const subnets = await Promise.all(names.map(async (n) => (await docker.getNetwork(n).inspect()).IPAM?.Config?.[0]?.Subnet));
      expect(new Set(subnets).size).toBe(6);
      for (const s of subnets) expect(s).toMatch(/^10\.213\.\d+\.0\/24$/);
      // Two builds at once both need the build network: one network, not two of one name.
      const same = await Promise.all(Array.from({ length: 4 }, () => engine.ensureNetwork(`slipway_build_${instance}`, labels, { icc: false, pool: '10.213.0.0/16' })));
      expect(new Set(same).size).toBe(1);
      expect((await docker.listNetworks({ filters: { name: [`slipway_build_${instance}`] } })).length).toBe(1);
    } finally {
      await removeOwnedNetworks(instance);
    }
  });

  it("removes the app's network when the app is deleted", async () => {
    const { networks } = await containerOf('alpha');
    await remove('alpha');
    await expect(docker.getNetwork(networks[0]!).inspect()).rejects.toThrow();
    expect((await viaGateway(slipway.gatewayUrl, 'beta.localhost')).text.trim()).toBe('beta 1.0.0');
  });
});

describe("Slipway's labels", () => {
  it('land on an image whose Dockerfile ends in a line continuation, so it is found and pruned', async () => {
    const { done } = await deploy(await app('trailing', 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\nRUN echo built \\\n'), 'trailing');
    expect(done.error).toBeUndefined();
    const image = await docker.getImage(`${slipway.prefix}trailing:1.0.0`).inspect();
    expect(image.Config.Labels).toMatchObject({ 'io.slipway.app': 'trailing', 'io.slipway.version': '1.0.0', 'io.slipway.instance': slipway.instance });
    await remove('trailing');
    await expect(docker.getImage(`${slipway.prefix}trailing:1.0.0`).inspect()).rejects.toThrow();
  });
});
