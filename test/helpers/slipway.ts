/**
 * A real Slipway for integration tests: the API and the worker as child processes (as `npm start` runs
 * them), a Redis from testcontainers, the machine's real Docker Engine, a temporary data dir, and an
 * image prefix of its own so cleanup only ever touches what this run created.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { afterEach } from 'vitest';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import getPort from 'get-port';
import { loadSettings } from '@slipway/runtime/config';
import { tokens, viaGateway } from './api';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const docker = new Docker();

export interface Slipway {
  url: string;
  dataDir: string;
  redisUrl: string;
  prefix: string;
  logFile: string;
  /** The testcontainers Redis, unless the test brought its own (`redisUrl`). */
  redis: StartedRedisContainer;
  api: ChildProcess;
  worker: ChildProcess;
  gateway: ChildProcess;
  /** The gateway's address; requests name the app in their Host header (`<app>.localhost`). */
  gatewayUrl: string;
  /** The gateway's HTTPS port (SLIPWAY_HTTPS_PORT; listened on only when SLIPWAY_TLS is on). */
  httpsPort: number;
  env: Record<string, string>;
  /** The label value that marks this instance's containers and images (io.slipway.instance). */
  instance: string;
  /** The admin token (SLIPWAY_ADMIN_TOKEN) and its header. */
  token: string;
  auth: Record<string, string>;
  /** Kills the worker (SIGKILL by default) and waits for it to be gone. */
  killWorker(signal?: NodeJS.Signals): Promise<void>;
  startWorker(): Promise<void>;
  restartGateway(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * When a test of this file fails, prints what Slipway logged at warn and above while it ran: the data dir
 * (and its log) is gone once the file's Slipway stops, and a CI run only keeps what was printed.
 */
export function printProblemsOnFailure(current: () => Slipway | undefined): void {
  afterEach(async (ctx) => {
    const slipway = current();
    if (ctx.task.result?.state !== 'fail' || !slipway) return;
    const text = await readFile(slipway.logFile, 'utf8').catch(() => '');
    const problems = text.split('\n').filter((line) => /"level":(4|5|6)\d/.test(line) || /^\s*(Error|at )/.test(line));
    console.error(`[${ctx.task.name}] Slipway's warnings and errors (${slipway.logFile}):\n${problems.slice(-60).join('\n') || '(none)'}`);
  });
}

/** Every key of Slipway's in Redis and every value under it, as one text to search for secrets. */
export async function everythingInRedis(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl);
  const everything: string[] = [];
  try {
    for (const key of await redis.keys('slipway:*')) {
      const type = await redis.type(key);
      if (type === 'string') everything.push(key, (await redis.get(key)) ?? '');
      if (type === 'hash') everything.push(key, JSON.stringify(await redis.hgetall(key)));
      if (type === 'set') everything.push(key, ...(await redis.smembers(key)));
      if (type === 'list') everything.push(key, ...(await redis.lrange(key, 0, -1)));
      if (type === 'zset') everything.push(key, ...(await redis.zrange(key, '0', '-1')));
      if (type === 'stream') everything.push(key, JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } finally {
    await redis.quit();
  }
  return everything.join('\n');
}

/** A Redis container; with `fixedPort`, one that can be stopped and started again where the clients expect it. */
export async function startRedis(fixedPort = false): Promise<StartedRedisContainer> {
  const redis = new RedisContainer('redis:7-alpine').withCommand(['redis-server', '--protected-mode', 'no']);
  return (fixedPort ? redis.withExposedPorts({ container: 6379, host: await getPort() }) : redis).start();
}

export async function startSlipway(
  opts: { env?: Record<string, string>; redis?: StartedRedisContainer; redisUrl?: string; dataDir?: string } = {},
): Promise<Slipway> {
  const redis = opts.redis ?? (opts.redisUrl ? (null as unknown as StartedRedisContainer) : await startRedis());
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'slipway-test-')));
  const port = await getPort();
  const gatewayPort = Number(opts.env?.SLIPWAY_GATEWAY_PORT ?? (await getPort()));
  const httpsPort = await getPort();
  const prefix = `slipwaytest${randomBytes(3).toString('hex')}/`;
  const token = `slw_test${randomBytes(24).toString('base64url')}`;
  const redisUrl = opts.redisUrl ?? `redis://${redis.getHost()}:${redis.getPort()}`;
  // Beside a data dir the test brought (it may be a deliberately full disk), else inside the temporary one.
  const logFile = path.join(opts.dataDir ? tmpdir() : dataDir, opts.dataDir ? `slipway-test-${randomBytes(4).toString('hex')}.log` : 'slipway.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const env: Record<string, string> = {
    PORT: String(port),
    SLIPWAY_GATEWAY_PORT: String(gatewayPort),
    SLIPWAY_HTTPS_PORT: String(httpsPort),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    SLIPWAY_DATA_DIR: dataDir,
    SLIPWAY_IMAGE_PREFIX: prefix,
    SLIPWAY_HEALTH_TIMEOUT_S: '20',
    SLIPWAY_STOP_GRACE_S: '2',
    SLIPWAY_LOG_LEVEL: 'debug',
    SLIPWAY_ADMIN_TOKEN: token,
    ...opts.env,
  };

  const spawn = (service: 'api' | 'worker' | 'gateway') => {
    const child = fork(path.join(root, `services/${service}/src/main.ts`), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    return child;
  };
  const ready = (child: ChildProcess, service: string) =>
    new Promise<void>((resolve, reject) => {
      child.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
      child.once('exit', (code) => reject(new Error(`${service} exited with ${code} before it was ready; see ${logFile}`)));
    });

  const slipway: Slipway = {
    url: `http://127.0.0.1:${port}`,
    dataDir,
    redisUrl,
    prefix,
    logFile,
    redis,
    env,
    token,
    instance: loadSettings({ ...process.env, ...env }).instance,
    auth: { authorization: `Bearer ${token}` },
    api: spawn('api'),
    worker: spawn('worker'),
    gateway: spawn('gateway'),
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    httpsPort,
    async killWorker(signal = 'SIGKILL') {
      const worker = slipway.worker;
      if (worker.exitCode !== null || worker.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.kill(signal);
      });
    },
    async startWorker() {
      slipway.worker = spawn('worker');
      await ready(slipway.worker, 'worker');
    },
    async restartGateway() {
      await new Promise<void>((resolve) => {
        slipway.gateway.once('exit', () => resolve());
        slipway.gateway.kill('SIGTERM');
      });
      slipway.gateway = spawn('gateway');
      await ready(slipway.gateway, 'gateway');
    },
    async stop() {
      for (const child of [slipway.api, slipway.worker, slipway.gateway]) {
        if (child.exitCode === null && child.signalCode === null) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          });
        }
      }
      await removeOwned(prefix);
      await removeOwnedNetworks(slipway.instance);
      if (!opts.redis && !opts.redisUrl) await redis.stop();
      log.end();
      if (!process.env.SLIPWAY_TEST_KEEP && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  await Promise.all([ready(slipway.api, 'api'), ready(slipway.worker, 'worker'), ready(slipway.gateway, 'gateway')]);
  tokens.set(slipway.url, token);
  return slipway;
}

/** Containers and images of this run only: proven by label and by the run's own image prefix. */
export async function removeOwned(prefix: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: ['io.slipway.app'] } });
  for (const c of containers) {
    if (c.Image.startsWith(prefix)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  }
  const images = await docker.listImages({ filters: { label: ['io.slipway.app'] } });
  for (const image of images) {
    if ((image.RepoTags ?? []).some((t) => t.startsWith(prefix))) {
      await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
    }
  }
}

/** The app and build networks of one installation, after any container of it still on them. */
export async function removeOwnedNetworks(instance: string): Promise<void> {
  const label = [`io.slipway.instance=${instance}`];
  for (const c of await docker.listContainers({ all: true, filters: { label } })) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  }
  for (const n of await docker.listNetworks({ filters: { label } })) {
    await docker.getNetwork(n.Id).remove().catch(() => {});
  }
}

/**
 * The containers of the installation whose images carry `prefix`. `name` is the SPEC's
 * `slipway-<app>-<version>`; `dockerName` may end in the installation's id, which Slipway adds when another
 * installation on the engine (the panel tests run beside the integration tests) holds the plain name.
 */
export async function containersOf(
  prefix: string,
): Promise<Array<{ id: string; name: string; dockerName: string; state: string; labels: Record<string, string> }>> {
  const list = await docker.listContainers({ all: true, filters: { label: ['io.slipway.app'] } });
  return list
    .filter((c) => c.Image.startsWith(prefix))
    .map((c) => {
      const dockerName = (c.Names[0] ?? '').slice(1);
      const suffix = `-${c.Labels['io.slipway.instance']}`;
      const name = dockerName.endsWith(suffix) ? dockerName.slice(0, -suffix.length) : dockerName;
      return { id: c.Id, name, dockerName, state: c.State, labels: c.Labels };
    });
}

/** Open descriptors and resident memory of a process, from /proc. */
export async function processUsage(pid: number): Promise<{ fds: number; rssMiB: number }> {
  const [fds, status] = await Promise.all([readdir(`/proc/${pid}/fd`), readFile(`/proc/${pid}/status`, 'utf8')]);
  return { fds: fds.length, rssMiB: Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024) };
}

/** Requests the app every `everyMs` through the gateway and counts what did not answer 200. */
/**
 * A process's heap after a full garbage collection, in MiB: what it really holds on to, which RSS cannot
 * tell (V8 collects lazily). Opens the process's inspector (SIGUSR1, 127.0.0.1:9229) and closes it after.
 */
export async function heapAfterGc(pid: number): Promise<number> {
  process.kill(pid, 'SIGUSR1');
  let target: string | undefined;
  for (let i = 0; i < 40 && !target; i++) {
    target = await fetch('http://127.0.0.1:9229/json/list')
      .then((r) => r.json() as Promise<Array<{ webSocketDebuggerUrl: string }>>)
      .then((list) => list[0]?.webSocketDebuggerUrl)
      .catch(() => undefined);
    if (!target) await new Promise((r) => setTimeout(r, 100));
  }
  if (!target) throw new Error(`the inspector of process ${pid} did not open`);
  const ws = new WebSocket(target);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 0;
  const send = (method: string, params: object = {}) =>
    new Promise<any>((resolve) => {
      const id = ++next;
      const onMessage = (raw: Buffer) => {
        const msg = JSON.parse(String(raw));
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        resolve(msg.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const res = await send('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
    return Math.round((Number(res.result.value) / 1048576) * 10) / 10;
  } finally {
    await send('Runtime.evaluate', { expression: "setTimeout(() => process.getBuiltinModule('node:inspector').close(), 50), 0" });
    ws.close();
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `clients` loops sending requests through the gateway as fast as answers come, until stopped; every answer is checked. */
export function loadThroughGateway(gatewayUrl: string, host: string, clients: number, path = '/') {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let running = true;
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let requests = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await viaGateway(gatewayUrl, host, path, agent);
        requests++;
        if (res.status !== 200) failures.push(`${res.status} ${res.text.slice(0, 80)}`);
        else seen.set(res.text.trim(), (seen.get(res.text.trim()) ?? 0) + 1);
      } catch (err) {
        requests++;
        failures.push((err as Error).message);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { requests, failures, seen };
    },
  };
}

export function prober(gatewayUrl: string, host: string, everyMs = 100) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const answers = new Map<string, number>();
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      sent++;
      try {
        const res = await viaGateway(gatewayUrl, host, '/', agent);
        if (res.status !== 200) failures.push(`${new Date().toISOString()} ${res.status}`);
        else answers.set(res.text.trim(), (answers.get(res.text.trim()) ?? 0) + 1);
      } catch (err) {
        failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { sent, failures, answers };
    },
  };
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}
