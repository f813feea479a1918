/**
 * `npm start` as the README says: the embedded Redis when REDIS_URL is unset, a clear stop on a bad
 * setting or a missing engine, and a clean exit that stops what it started.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/api';

const root = fileURLToPath(new URL('../..', import.meta.url));

function launch(env: Record<string, string>) {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('npm start', () => {
  it('starts its own Redis when REDIS_URL is unset, serves, and stops everything on Ctrl-C', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'slipway-start-'));
    const port = await getPort();
    const run = launch({ PORT: String(port), SLIPWAY_DATA_DIR: dataDir });
    try {
      let health = { status: 0, body: null as any };
      for (let i = 0; i < 150 && health.status !== 200; i++) {
        health = await call(`http://127.0.0.1:${port}`, 'GET', '/healthz').catch(() => health);
        if (health.status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(health).toMatchObject({ status: 200, body: { ok: true, redis: true, docker: true, workers: 1 } });
      const redisPort = Number(/embedded Redis: .*:(\d+)/.exec(run.output())?.[1]);
      expect(redisPort).toBeGreaterThan(0);
      expect(await portOpen(redisPort)).toBe(true);

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(await portOpen(port)).toBe(false);
      expect(await portOpen(redisPort)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
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
