/**
 * Two Swarm nodes on one machine (issue 17; the recipe in ENVIRONMENT.md): this machine's engine is the
 * manager at 10.77.0.1, a second engine in a network namespace of its own (own UTS name `node2`) joins it
 * as a worker at 10.77.0.2, and Debian's registry serves the images both pull, to a login only. The registry listens on
 * the link between them; each side reaches it as `127.0.0.1:<port>` through a small forwarder, because
 * engines trust a plain-HTTP registry on loopback without any daemon.json change (so this machine's engine
 * never restarts for the test). Everything is torn down afterwards, and a leftover of an earlier run that
 * died is removed before anything starts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import Docker from 'dockerode';
import getPort from 'get-port';
import { terminate } from './host';

const run = promisify(execFile);
const NETNS = 'slipway-node2';
const VETH_HOST = 'slw-node1';
const VETH_NODE = 'slw-node2';
export const NODE1 = '10.77.0.1';
export const NODE2 = '10.77.0.2';
const ROOT = '/var/lib/slipway-node2';
const EXEC_ROOT = '/run/slipway-node2';
const SOCKET = `${EXEC_ROOT}/docker.sock`;
const PIDFILE = `${EXEC_ROOT}/docker.pid`;
/** Marks a swarm this harness made on the first engine, so a later run may leave it. */
const MARKER = '/run/slipway-two-nodes.swarm';
/** Node 2's containers live under this cgroup, so a lost node's processes can all be found and killed. */
const CGROUP = 'slipway-node2';

export interface TwoNodes {
  /** SLIPWAY_REGISTRY for Slipway: the same name works on both nodes. */
  registry: string;
  /** The registry refuses anonymous requests: this login (SLIPWAY_REGISTRY_USER and _PASSWORD) is needed. */
  registryAuth: { username: string; password: string };
  /** A repository's tags, as the registry lists them. */
  registryTags(repo: string): Promise<string[]>;
  /** The second engine. */
  node2: Docker;
  /** The first engine (this machine's). */
  node1: Docker;
  /** Node ids by host name as Swarm reports them. */
  nodeIds(): Promise<Record<string, string>>;
  /** Kills node 2's engine and everything it ran, and cuts its link: a machine lost, as the others see it. */
  loseNode2(): Promise<void>;
  stop(): Promise<void>;
}

/** In node 2's network namespace, with the host name `node2`. */
function inNode2(command: string[]): string[] {
  return ['--net=/run/netns/' + NETNS, 'unshare', '--uts', 'sh', '-c', 'hostname node2 && exec "$0" "$@"', ...command];
}

async function sh(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
}
const quiet = (p: Promise<unknown>) => p.catch(() => {});

/** Forwards 127.0.0.1:port to the registry on the link (the node-2 side runs inside the namespace). */
const FORWARD = `require('net').createServer((c)=>{const u=require('net').connect(+process.argv[1],process.argv[2]);c.pipe(u).pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy())}).listen(+process.argv[1],'127.0.0.1',()=>console.log('ready'))`;

function forwardHere(port: number): Promise<Server> {
  const server = createServer((c) => {
    const u = connect(port, NODE1);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve(server)));
}

function started(child: ChildProcess, ready: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  let output = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve();
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}:\n${output.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs / 1000} s:\n${output.slice(-2000)}`)), timeoutMs).unref();
  });
}

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
}

/** What an earlier run left: node 2's engine, its namespace and link, and a swarm this harness made. */
export async function tearDown(): Promise<void> {
  if (existsSync(SOCKET)) await quiet(sh('docker', ['-H', `unix://${SOCKET}`, 'swarm', 'leave', '--force']));
  const pid = existsSync(PIDFILE) ? Number((await readFile(PIDFILE, 'utf8')).trim()) : 0;
  // Already gone, or it did not stop in time (what is left of it is killed below).
  if (pid) await terminate(pid, 'node 2 engine', 30_000).catch(() => {});
  // Whatever still runs in the namespace or node 2's containers (a lost node's leftovers) goes with it.
  await killNode2();
  await quiet(sh('ip', ['netns', 'del', NETNS]));
  await quiet(sh('ip', ['link', 'del', VETH_HOST]));
  // Mounts left by a killed engine keep its data root busy.
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(ROOT) || m.startsWith(EXEC_ROOT));
  for (const m of mounts.reverse()) await quiet(sh('umount', ['-l', m]));
  await rm(ROOT, { recursive: true, force: true });
  await rm(EXEC_ROOT, { recursive: true, force: true });
  if (existsSync(MARKER)) {
    await quiet(sh('docker', ['swarm', 'leave', '--force']));
    // `swarm leave` leaves this network behind.
    await quiet(new Docker().getNetwork('docker_gwbridge').remove());
    await rm(MARKER, { force: true });
  }
}

/** SIGKILL to every process of node 2: its engine and containerd (in its namespace) and its containers (in its cgroup). */
async function killNode2(): Promise<void> {
  const pids = (await sh('ip', ['netns', 'pids', NETNS]).catch(() => '')).split('\n');
  const cgroup = `/sys/fs/cgroup/pids/${CGROUP}`;
  if (existsSync(cgroup)) {
    for (const entry of await readdir(cgroup, { withFileTypes: true })) {
      if (entry.isDirectory()) pids.push(...(await readFile(path.join(cgroup, entry.name, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n'));
    }
  }
  for (const pid of pids.filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

export async function startTwoNodes(): Promise<TwoNodes> {
  await tearDown();
  const node1 = new Docker();
  const state = (await node1.info()).Swarm?.LocalNodeState;
  if (state && state !== 'inactive') throw new Error(`This machine's engine is already in a swarm (${state}) that this test did not make: leave it first (docker swarm leave --force)`);
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-registry-'));
  const stop = async () => {
    for (const s of servers) s.close();
    await tearDown();
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The link.
    await sh('ip', ['netns', 'add', NETNS]);
    await sh('ip', ['link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_NODE]);
    await sh('ip', ['link', 'set', VETH_NODE, 'netns', NETNS]);
    await sh('ip', ['addr', 'add', `${NODE1}/24`, 'dev', VETH_HOST]);
    await sh('ip', ['link', 'set', VETH_HOST, 'up']);
    const nsenter = (args: string[]) => sh('nsenter', ['--net=/run/netns/' + NETNS, ...args]);
    await nsenter(['ip', 'addr', 'add', `${NODE2}/24`, 'dev', VETH_NODE]);
    await nsenter(['ip', 'link', 'set', VETH_NODE, 'up']);
    await nsenter(['ip', 'link', 'set', 'lo', 'up']);

    // The registry, on the link, and reached as 127.0.0.1:<port> on both sides.
    // It asks for a login (htpasswd, bcrypt at the lowest cost: it checks every request), so that the
    // pushes, every node's pulls and the tag deletions are proven to carry Slipway's credentials.
    const port = await getPort();
    const registryAuth = { username: 'slipway', password: randomBytes(18).toString('base64url') };
    await writeFile(path.join(dir, 'htpasswd'), `${registryAuth.username}:${await bcrypt.hash(registryAuth.password, 4)}\n`);
    const config = `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nauth:\n  htpasswd:\n    realm: slipway-test\n    path: ${dir}/htpasswd\nhttp:\n  addr: ${NODE1}:${port}\n`;
    await writeFile(path.join(dir, 'config.yml'), config);
    const basic = `Basic ${Buffer.from(`${registryAuth.username}:${registryAuth.password}`).toString('base64')}`;
    const registry = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(registry);
    registry.on('exit', () => {});
    servers.push(await forwardHere(port));
    const forwarder = spawn('nsenter', ['--net=/run/netns/' + NETNS, process.execPath, '-e', FORWARD, String(port), NODE1], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(forwarder);
    await started(forwarder, /ready/, 'the registry forwarder on node 2');
    await until('the registry answering', async () => (await fetch(`http://127.0.0.1:${port}/v2/`, { headers: { authorization: basic } })).ok, 20_000);

    // Node 2's engine.
    await mkdir(ROOT, { recursive: true });
    await mkdir(EXEC_ROOT, { recursive: true });
    const engine = spawn('nsenter', inNode2(['dockerd', '--data-root', ROOT, '--exec-root', EXEC_ROOT, '--pidfile', PIDFILE, '-H', `unix://${SOCKET}`, '--no-new-privileges', '--cgroup-parent', `/${CGROUP}`]), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    engine.stdout!.resume();
    engine.stderr!.resume();
    const node2 = new Docker({ socketPath: SOCKET });
    await until('node 2 engine answering', async () => (await node2.ping()) && true, 60_000);

    // The swarm.
    await sh('docker', ['swarm', 'init', '--advertise-addr', NODE1, '--listen-addr', `${NODE1}:2377`]);
    await writeFile(MARKER, new Date().toISOString());
    const token = (await sh('docker', ['swarm', 'join-token', '-q', 'worker'])).trim();
    await sh('docker', ['-H', `unix://${SOCKET}`, 'swarm', 'join', '--token', token, '--advertise-addr', NODE2, `${NODE1}:2377`]);
    await until('both nodes ready', async () => {
      const nodes = await node1.listNodes();
      return nodes.length === 2 && nodes.every((n: { Status?: { State?: string } }) => n.Status?.State === 'ready');
    });

    return {
      registry: `127.0.0.1:${port}`,
      registryAuth,
      async registryTags(repo) {
        const res = await fetch(`http://127.0.0.1:${port}/v2/${repo}/tags/list`, { headers: { authorization: basic } });
        if (res.status === 404) return [];
        if (!res.ok) throw new Error(`the registry answered ${res.status} for ${repo}'s tags`);
        return ((await res.json()) as { tags: string[] | null }).tags ?? [];
      },
      node1,
      node2,
      async nodeIds() {
        const nodes = (await node1.listNodes()) as Array<{ ID: string; Description?: { Hostname?: string } }>;
        return Object.fromEntries(nodes.map((n) => [n.Description?.Hostname ?? '', n.ID]));
      },
      async loseNode2() {
        await nsenter(['ip', 'link', 'set', VETH_NODE, 'down']);
        await killNode2();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
