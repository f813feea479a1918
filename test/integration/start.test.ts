/**
 * `npm start` as the README says: the compiled entry (dist/slipway.js) run by plain node, api, worker and
 * gateway in that one process, the embedded Redis when REDIS_URL is unset (started again if it dies), one
 * Slipway per data dir, a clear stop on a bad setting or a missing engine, and a clean exit that stops what
 * it started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, tokens, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { loadSettings } from '@slipway/runtime/config';
import { docker, removeOwnedNetworks } from '../helpers/slipway';

const root = fileURLToPath(new URL('../..', import.meta.url));

// What `npm start` runs, compiled from the sources under test (its prestart does the same when stale).
beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build-server.mjs'], { cwd: root, stdio: 'inherit' });
});

function launch(env: Record<string, string>) {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['dist/slipway.js'], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** The processes a pid started, from /proc: `pid command` each. */
async function childrenOf(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(`${entry} ${(await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim()}`);
  }
  return out;
}

async function healthy(port: number, tries = 150) {
  let health = { status: 0, body: null as any };
  for (let i = 0; i < tries && health.status !== 200; i++) {
    health = await call(`http://127.0.0.1:${port}`, 'GET', '/healthz').catch(() => health);
    if (health.status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  return health;
}

describe('npm start', () => {
  it('starts its own Redis when REDIS_URL is unset, serves, and stops everything on Ctrl-C', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'slipway-start-'));
    const port = await getPort();
    const run = launch({ PORT: String(port), SLIPWAY_DATA_DIR: dataDir });
    try {
      expect(await healthy(port)).toMatchObject({ status: 200, body: { ok: true, redis: true, docker: true, workers: 1, gateways: 1 } });
      const redisPort = Number(/embedded Redis: .*:(\d+)/.exec(run.output())?.[1]);
      expect(redisPort).toBeGreaterThan(0);
      expect(await portOpen(redisPort)).toBe(true);
      // One Node process: api, worker and gateway are not children of it (the host sampler may run a
      // short-lived command now and then), the embedded redis-server is.
      const children = await childrenOf(run.child.pid!);
      const redisServer = children.find((c) => c.endsWith(' redis-server'));
      expect(redisServer).toBeDefined();
      expect(children.filter((c) => / (node|npm|sh|tsx)$/.test(c))).toEqual([]);

      // A second Slipway on the same data dir is refused, and the first keeps serving.
      const second = launch({ PORT: String(await getPort()), SLIPWAY_DATA_DIR: dataDir });
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/Another Slipway \(pid \d+\) is running on the data dir/);

      // The embedded Redis is supervised: killed, it is started again and Slipway is healthy again.
      process.kill(Number(redisServer!.split(' ')[0]), 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      expect(await healthy(port)).toMatchObject({ status: 200, body: { ok: true, redis: true } });
      expect(run.output()).toMatch(/embedded redis-server exited \(SIGKILL\); starting it again/);

      // The admin token is printed once, and works.
      const token = /(slw_[A-Za-z0-9_-]{43})/.exec(run.output())?.[1];
      expect(token).toBeTruthy();
      const base = `http://127.0.0.1:${port}`;
      tokens.set(base, token!);
      expect((await call(base, 'GET', '/api/auth/status')).body).toEqual({ setupRequired: true });
      const res = await upload(base, await fixtureTgz('hello', { name: 'prober', version: '1.0.0' }), 'prober.tgz');
      const deployed = await waitForDeploy(base, res.body.deploy.id);
      expect(deployed.status).toBe('succeeded');

      // From inside an app's container, Slipway's API, Redis and gateway are out of reach (loopback binds).
      const bridge = await docker.getNetwork('bridge').inspect();
      const hostIp = bridge.IPAM?.Config?.[0]?.Gateway ?? '172.17.0.1';
      const gatewayPort = Number(/apps: http:\/\/<app>\.localhost:(\d+)/.exec(run.output())?.[1]);
      const probe = `const net = require('net'); const tryPort = (p) => new Promise((r) => { const s = net.connect({ host: '${hostIp}', port: p }, () => { s.destroy(); r(p + ':open'); }); s.on('error', (e) => r(p + ':' + e.code)); s.setTimeout(2000, () => { s.destroy(); r(p + ':timeout'); }); }); Promise.all([${port}, ${redisPort}, ${gatewayPort}].map(tryPort)).then((x) => console.log(x.join(' ')));`;
      const exec = await docker.getContainer('slipway-prober-1.0.0').exec({ Cmd: ['node', '-e', probe], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      const out = await new Promise<string>((resolve) => {
        let text = '';
        stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
        stream.on('end', () => resolve(text));
      });
      expect(out).toMatch(new RegExp(`${port}:(ECONNREFUSED|timeout)`));
      expect(out).toMatch(new RegExp(`${redisPort}:(ECONNREFUSED|timeout)`));
      expect(out).toMatch(new RegExp(`${gatewayPort}:(ECONNREFUSED|timeout)`));
      expect(out).not.toContain(':open');
      await call(base, 'DELETE', '/api/apps/prober?confirm=prober');

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(await portOpen(port)).toBe(false);
      expect(await portOpen(redisPort)).toBe(false);
      // The data dir is free again.
      await expect(readFile(path.join(dataDir, 'slipway.pid'))).rejects.toThrow(/ENOENT/);
    } finally {
      run.child.kill('SIGKILL');
      await removeOwnedNetworks(loadSettings({ SLIPWAY_DATA_DIR: dataDir }).instance);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('stops what it started when a later part cannot start (the API port is taken)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'slipway-start-'));
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = launch({ PORT: String(port), SLIPWAY_DATA_DIR: dataDir });
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/EADDRINUSE/);
      // The embedded Redis went with it, and the data dir is free.
      const redisPort = Number(/embedded Redis: .*:(\d+)/.exec(run.output())?.[1]);
      expect(redisPort).toBeGreaterThan(0);
      expect(await portOpen(redisPort)).toBe(false);
      await expect(readFile(path.join(dataDir, 'slipway.pid'))).rejects.toThrow(/ENOENT/);
    } finally {
      taken.close();
      await removeOwnedNetworks(loadSettings({ SLIPWAY_DATA_DIR: dataDir }).instance);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a bad setting, naming it, before starting anything', async () => {
    const run = launch({ PORT: 'eighty', SLIPWAY_CONCURRENCY: '0' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/PORT="eighty"/);
    expect(run.output()).toMatch(/SLIPWAY_CONCURRENCY/);
  });

  it('says how to install or start Docker when the engine is missing', async () => {
    const run = launch({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/needs a running Docker Engine/);
    expect(run.output()).toMatch(/apt-get install -y docker\.io/);
  });
});
