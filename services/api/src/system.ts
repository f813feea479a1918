/**
 * `GET /api/system`: the machine Slipway runs on (systeminformation, never given user input), its Linux
 * parameters (/proc/sys) and process limits, and the Docker Engine as the worker last reported it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { loadavg, networkInterfaces } from 'node:os';
import si from 'systeminformation';
import { readLatest } from '@slipway/records/metrics';
import { keys } from '@slipway/records/redis';
import type { SwarmNode } from '@slipway/contracts/responses';
import type { ApiContext } from './context';

/** Linux parameters worth seeing on a machine that runs containers (SPEC §4 names the first ones). */
export const SYSCTLS = [
  'vm.swappiness',
  'vm.overcommit_memory',
  'vm.max_map_count',
  'fs.file-max',
  'fs.nr_open',
  'fs.inotify.max_user_watches',
  'fs.inotify.max_user_instances',
  'net.core.somaxconn',
  'net.core.netdev_max_backlog',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_max_syn_backlog',
  'net.ipv4.ip_forward',
  'kernel.pid_max',
  'kernel.threads-max',
] as const;

export async function readSysctls(): Promise<Record<string, string | null>> {
  const entries = await Promise.all(
    SYSCTLS.map(async (name) => {
      const value = await readFile(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').catch(() => null);
      return [name, value === null ? null : value.trim().replace(/\s+/g, ' ')] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** This process's limits (`ulimit`), from /proc/self/limits. */
export async function readLimits(): Promise<Record<string, { soft: string; hard: string; unit: string }>> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const limits: Record<string, { soft: string; hard: string; unit: string }> = {};
  for (const line of text.split('\n').slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)\s*(\S*)\s*$/.exec(line);
    if (m) limits[m[1]!.trim().toLowerCase().replace(/\s+/g, '_')] = { soft: m[2]!, hard: m[3]!, unit: m[4] ?? '' };
  }
  return limits;
}

/**
 * The machine's network interfaces from Node's own list and /sys/class/net. Not si.networkInterfaces():
 * on Linux it runs commands per interface with execSync, and every app's network adds interfaces, so one
 * visit to the System page blocked the process (worker and gateway too, when they share it) for seconds.
 */
export async function hostInterfaces(sysNet = '/sys/class/net') {
  const addresses = networkInterfaces();
  const names = await readdir(sysNet).catch(() => Object.keys(addresses));
  return Promise.all(
    names.sort().map(async (iface) => {
      const read = (file: string) => readFile(`${sysNet}/${iface}/${file}`, 'utf8').then((s) => s.trim(), () => '');
      const [operstate, speed, mac] = await Promise.all([read('operstate'), read('speed'), read('address')]);
      const list = addresses[iface] ?? [];
      return {
        iface,
        ip4: list.find((a) => a.family === 'IPv4')?.address ?? '',
        ip6: list.find((a) => a.family === 'IPv6')?.address ?? '',
        mac: mac || list[0]?.mac || '',
        speedMbps: Number(speed) > 0 ? Number(speed) : null,
        // Loopback and some virtual links say "unknown" while they carry traffic.
        up: operstate === 'up' || (operstate === 'unknown' && list.length > 0),
      };
    }),
  );
}

export async function systemInfo(ctx: ApiContext) {
  const [os, cpu, mem, disks, ifaces, params, limits, dockerRaw, latest, nodesRaw] = await Promise.all([
    si.osInfo(),
    si.cpu(),
    si.mem(),
    si.fsSize(),
    hostInterfaces(),
    readSysctls(),
    readLimits(),
    ctx.redis.get('slipway:docker:info'),
    readLatest(ctx.redis, 'host'),
    ctx.redis.get(keys.swarmNodes),
  ]);
  const [load1, load5, load15] = loadavg();
  const docker = dockerRaw ? (JSON.parse(dockerRaw) as Record<string, unknown> & { dockerRootDir?: string }) : null;
  return {
    hostname: os.hostname,
    os: { platform: os.platform, distro: os.distro, release: os.release, arch: os.arch },
    kernel: os.kernel,
    uptimeS: Math.round(si.time().uptime),
    cpu: { model: `${cpu.manufacturer} ${cpu.brand}`.trim(), cores: cpu.cores, physicalCores: cpu.physicalCores, speedGHz: cpu.speed, percent: latest?.cpuPercent ?? null },
    load: { load1, load5, load15 },
    memory: { totalBytes: mem.total, usedBytes: mem.active, availableBytes: mem.available },
    swap: { totalBytes: mem.swaptotal, usedBytes: mem.swapused },
    disks: realDisks(disks, docker?.dockerRootDir),
    network: ifaces,
    docker,
    nodes: nodesRaw ? (JSON.parse(nodesRaw) as SwarmNode[]) : null,
    params: { sysctl: params, limits },
  };
}

/**
 * The machine's filesystems as a person counts them: every container's overlay and whatever the engine
 * mounts inside its data root is the same disk again. The filesystem that holds Docker's data root says so.
 */
export function realDisks(disks: Array<{ mount: string; fs: string; type: string; size: number; used: number; use: number }>, dockerRoot: string | undefined) {
  const inside = (mount: string, dir: string) => mount === dir || mount.startsWith(`${dir.replace(/\/$/, '')}/`);
  const real = disks.filter((d) => d.type !== 'overlay' && !(dockerRoot && inside(d.mount, dockerRoot) && d.mount !== dockerRoot));
  // The longest mount that the data root is under holds it.
  const holder = dockerRoot ? real.filter((d) => inside(dockerRoot, d.mount) || d.mount === '/').sort((a, b) => b.mount.length - a.mount.length)[0] : undefined;
  return real.map((d) => ({ mount: d.mount, fs: d.fs, type: d.type, sizeBytes: d.size, usedBytes: d.used, usePercent: d.use, dockerRoot: d === holder }));
}
