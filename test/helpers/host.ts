/**
 * Parts of the host that fault tests restart: the Docker Engine itself, and a Redis that does not live
 * in Docker (a testcontainers Redis would go down with the engine it runs on).
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { docker } from './slipway';

const run = promisify(execFile);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s`);
}

/**
 * Restarts the machine's dockerd the way it was started: through systemd where it manages the engine,
 * else by stopping the process in /var/run/docker.pid and starting it again with the same command line
 * and environment (as `.ci/run` starts it). Running containers stop with it, as in a real restart.
 */
/** SIGTERM to `pid`, then waits until the process is gone. */
export async function terminate(pid: number, what: string, timeoutMs: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  await until(`${what} stopped`, async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, timeoutMs);
}

export async function restartDockerd(): Promise<void> {
  if (existsSync('/run/systemd/system') && (await run('systemctl', ['is-active', 'docker']).then(() => true, () => false))) {
    await run('systemctl', ['restart', 'docker']);
  } else {
    const pidFile = '/var/run/docker.pid';
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!pid) throw new Error(`cannot restart dockerd: no pid in ${pidFile} and no systemd unit`);
    const [cmd, ...args] = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const env = Object.fromEntries(
      (await readFile(`/proc/${pid}/environ`, 'utf8'))
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    await terminate(pid, 'dockerd', 90_000);
    const log = openSync(path.join(tmpdir(), 'slipway-test-dockerd.log'), 'a');
    spawn(cmd!, args, { env, detached: true, stdio: ['ignore', log, log] }).unref();
  }
  await until('dockerd answering again', async () => (await docker.ping(), true), 90_000);
}

/** A redis-server process on a free port, without persistence. */
export async function hostRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await getPort();
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`redis-server: ${err.message}`))));
  const url = `redis://127.0.0.1:${port}`;
  const ready = until('redis-server answering', async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  }, 15_000);
  await Promise.race([ready, failed]);
  return {
    url,
    async stop() {
      if (child.exitCode === null) await new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
