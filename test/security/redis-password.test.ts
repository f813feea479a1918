/**
 * The Redis `npm start` runs itself requires a password (issue 12, SPEC §1): generated at first start,
 * kept under the data dir with mode 0600, reused on later starts, never printed or logged.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/api';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function start(dataDir: string) {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const port = await getPort();
  const env = { ...inherited, PORT: String(port), SLIPWAY_GATEWAY_PORT: String(await getPort()), SLIPWAY_DATA_DIR: dataDir };
  // Its own process group, so a failed test can end start.ts with every process it started.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let status = 0;
  // Healthy once the worker reports in: slow on a loaded machine, so a generous deadline (no timing is asserted).
  for (const deadline = Date.now() + 150_000; Date.now() < deadline && status !== 200; ) {
    status = (await call(`http://127.0.0.1:${port}`, 'GET', '/healthz').catch(() => ({ status: 0 }))).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  if (status !== 200) process.kill(-child.pid!, 'SIGKILL');
  expect(status, output).toBe(200);
  const redisPort = Number(/embedded Redis: .*127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  expect(redisPort, output).toBeGreaterThan(0);
  return {
    redisPort,
    output: () => output,
    async stop() {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    },
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** What Redis answers a raw `AUTH`/`PING` over TCP, as any local process could send them. */
function ping(port: number, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const lines = text.split('\r\n').filter(Boolean);
      if (lines.length >= (password ? 2 : 1)) {
        socket.destroy();
        resolve(lines.join(' '));
      }
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
  });
}

describe('the embedded Redis', () => {
  it('refuses unauthenticated clients; its password is 0600 under the data dir, reused, and never printed', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'slipway-redis-pw-'));
    let run: Awaited<ReturnType<typeof start>> | undefined;
    try {
      run = await start(dataDir);
      expect(await ping(run.redisPort)).toMatch(/NOAUTH/);
      expect(await ping(run.redisPort, 'not-the-password')).toMatch(/^-WRONGPASS.* -NOAUTH/);

      const file = path.join(dataDir, 'redis', 'password');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const password = (await readFile(file, 'utf8')).trim();
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect(await ping(run.redisPort, password)).toBe('+OK +PONG');
      const client = new Redis({ host: '127.0.0.1', port: run.redisPort, password });
      await client.set('slipway:test:survives', 'yes');
      await client.quit();

      const first = run.output();
      await run.stop();
      run = await start(dataDir);
      // Same password on a later start, so the data kept in the AOF stays reachable.
      expect((await readFile(file, 'utf8')).trim()).toBe(password);
      expect(await ping(run.redisPort)).toMatch(/NOAUTH/);
      const again = new Redis({ host: '127.0.0.1', port: run.redisPort, password });
      expect(await again.get('slipway:test:survives')).toBe('yes');
      await again.quit();

      const logDir = path.join(dataDir, 'logs', 'slipway');
      const logs = await Promise.all((await readdir(logDir)).map((f) => readFile(path.join(logDir, f), 'utf8')));
      for (const text of [first, run.output(), ...logs]) expect(text).not.toContain(password);
      await run.stop();
      run = undefined;
    } finally {
      run?.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
    // Two whole starts and stops of Slipway.
  }, 400_000);
});
