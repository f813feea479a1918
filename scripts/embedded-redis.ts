/**
 * Slipway's own Redis when none is configured (SPEC §1): a `redis-server` child when one is installed,
 * else a `redis:7-alpine` container with a volume. Either way on loopback, AOF on, noeviction
 * (BullMQ must never lose a job to eviction), data under the data dir or the volume, and a password
 * (issue 12): generated at first start into `<data>/redis/password` (0600), reused on later starts.
 * Started again if it dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { startRedisContainer } from '@slipway/worker/docker/redis-container';

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

const REDIS_ARGS = ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '', '--protected-mode', 'yes'];

export async function startEmbeddedRedis(dataDir: string, say: (msg: string) => void): Promise<EmbeddedRedis> {
  const port = await getPort({ port: 6390, host: '127.0.0.1' });
  // Printed and logged without the password; the services get `authUrl`.
  const url = `redis://127.0.0.1:${port}`;
  const password = await redisPassword(dataDir);
  const authUrl = `redis://:${password}@127.0.0.1:${port}`;
  if (await onPath('redis-server')) {
    const dir = path.join(dataDir, 'redis');
    let stopping = false;
    let restarts = 0;
    let child!: ChildProcess;
    // Supervised: a redis-server that dies is started again on the same port, files and password (the
    // services' clients reconnect by themselves), waiting longer after each quick death.
    const run = () => {
      if (stopping) return;
      const began = Date.now();
      // The password goes in on stdin (`redis-server -`), not in argv, where any local user could read it.
      child = spawn('redis-server', ['-', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...REDIS_ARGS], {
        stdio: ['pipe', 'ignore', 'inherit'],
      });
      child.stdin!.end(`requirepass ${password}\n`);
      child.on('exit', (code, signal) => {
        if (stopping) return;
        restarts = Date.now() - began > 60_000 ? 0 : restarts + 1;
        const delay = Math.min(500 * 2 ** restarts, 15_000);
        console.error(`[slipway] embedded redis-server exited (${code ?? signal}); starting it again in ${delay / 1000} s`);
        setTimeout(run, delay);
      });
    };
    run();
    await waitForRedis(authUrl, url);
    say(`embedded Redis: redis-server on ${url}, data in ${dir}, password in ${path.join(dir, 'password')}`);
    return {
      url: authUrl,
      stop: () =>
        new Promise((resolve) => {
          stopping = true;
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }

  const name = 'slipway-redis';
  const container = await startRedisContainer(process.env.DOCKER_HOST, {
    name,
    image: 'redis:7-alpine',
    // Other containers share the bridge with this one, so it gets a password (kept 0600 in the data dir).
    cmd: ['redis-server', '--dir', '/data', ...REDIS_ARGS, '--protected-mode', 'no', '--requirepass', password],
    hostPort: port,
    volume: 'slipway-redis-data',
    labels: { 'io.slipway.managed': 'redis' },
  });
  await waitForRedis(authUrl, url);
  say(`embedded Redis: container ${name} on ${url}, data in volume slipway-redis-data`);
  return { url: authUrl, stop: container.stop };
}

async function waitForRedis(url: string, shown: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not yet
    } finally {
      client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Redis at ${shown} did not answer within ${timeoutMs / 1000} s`);
}

async function redisPassword(dataDir: string): Promise<string> {
  const dir = path.join(dataDir, 'redis');
  const file = path.join(dir, 'password');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) {
    // A file made by hand may be readable by others: it holds the key to every record.
    await chmod(file, 0o600);
    return existing;
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  for (const dir of dirs) {
    try {
      await access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}
