/**
 * Every SLIPWAY_SAMPLE_S the worker samples the machine (systeminformation: CPU, load, memory, disk,
 * network) and each running app's container (Docker stats), and adds the samples to the minute and hour
 * history (packages/records/src/metrics.ts). Nothing here takes user input.
 */
import { readFile, statfs } from 'node:fs/promises';
import { cpus, loadavg, type CpuInfo } from 'node:os';
import si from 'systeminformation';
import { APP_FIELDS, HOST_FIELDS, recordSample, type Sample } from '@slipway/records/metrics';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';
import { runnerFor } from '../runners';

export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private lastNet: { rx: number; tx: number } | null = null;
  private readonly cpu = new CpuMeter();
  private readonly lastIo = new Map<string, { rx: number; tx: number; read: number; write: number }>();
  private running = false;

  constructor(private readonly ctx: WorkerContext) {}

  start(): void {
    const tick = () => {
      if (this.running) return; // a slow sample never piles up behind itself
      this.running = true;
      void this.sample()
        .catch((err: Error) => this.ctx.log.debug({ err: err.message }, 'sampling failed'))
        .finally(() => (this.running = false));
    };
    tick();
    this.timer = setInterval(tick, this.ctx.settings.sampleMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    const at = Date.now();
    await Promise.all([this.sampleHost(at), this.sampleApps(at)]);
  }

  private async sampleHost(at: number): Promise<void> {
    // statfs of the data dir's filesystem rather than si.fsSize(), which runs `df` every time.
    const [mem, disk, { rx, tx }] = await Promise.all([si.mem(), statfs(this.ctx.settings.dataDir), networkTotals()]);
    const sample: Sample = {
      cpuPercent: this.cpu.percent(),
      load1: loadavg()[0] ?? 0,
      memUsedBytes: mem.active,
      memTotalBytes: mem.total,
      diskUsedBytes: (disk.blocks - disk.bfree) * disk.bsize,
      diskTotalBytes: disk.blocks * disk.bsize,
      netRxBytes: this.lastNet ? Math.max(0, rx - this.lastNet.rx) : 0,
      netTxBytes: this.lastNet ? Math.max(0, tx - this.lastNet.tx) : 0,
    };
    this.lastNet = { rx, tx };
    await recordSample(this.ctx.redis, 'host', at, sample, HOST_FIELDS);
  }

  /**
   * The current containers of every app (candidates and stopped ones are not sampled): the app's series is
   * their sum; with several instances, each also has a series of its own (`app:<app>#<index>`).
   */
  /**
   * One app now, not at the next round: a version that just switched in has figures to show within a
   * second or two, not after SLIPWAY_SAMPLE_S.
   */
  async sampleApp(app: string): Promise<void> {
    await this.sampleApps(Date.now(), app);
  }

  private async sampleApps(at: number, only?: string): Promise<void> {
    const filter: Record<string, string | true> = only ? { [LABEL.managed]: true, [LABEL.app]: only } : { [LABEL.managed]: true };
    const running = (await this.ctx.engine.containers.list(filter)).filter((c) => c.state === 'running');
    const runner = runnerFor(this.ctx);
    const byApp = new Map<string, Array<{ replica: number; sample: Sample; totals: Sample }>>();
    await Promise.all(
      running.map(async (c) => {
        const app = c.labels[LABEL.app];
        if (!app) return;
        const record = await this.ctx.store.getAppRecord(app);
        if (!runner.isCurrent(c, record)) return;
        const measured = await this.measure(c.id);
        if (!measured) return;
        const list = byApp.get(app) ?? [];
        list.push({ replica: Number(c.labels[LABEL.replica] ?? 0), ...measured });
        byApp.set(app, list);
      }),
    );
    if (!only) for (const id of this.lastIo.keys()) if (!running.some((c) => c.id === id)) this.lastIo.delete(id);
    await Promise.all(
      [...byApp].map(async ([app, list]) => {
        if (list.length > 1) await Promise.all(list.map(({ replica, sample, totals }) => recordSample(this.ctx.redis, `app:${app}#${replica}`, at, sample, APP_FIELDS, totals)));
        await recordSample(this.ctx.redis, `app:${app}`, at, sum(list.map((m) => m.sample)), APP_FIELDS, sum(list.map((m) => m.totals)));
      }),
    );
  }

  /** One container's figures since the last sample; null while it has none (just started or stopping). */
  private async measure(id: string): Promise<{ sample: Sample; totals: Sample } | null> {
    const stats = await this.ctx.engine.containers.stats(id);
    if (!stats) return null;
    const s = stats as unknown as DockerStats;
    if (s.memory_stats.usage === undefined) return null;
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
    const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats.online_cpus ?? 1;
    const net = Object.values(s.networks ?? {}).reduce((a, n) => ({ rx: a.rx + n.rx_bytes, tx: a.tx + n.tx_bytes }), { rx: 0, tx: 0 });
    const io = (s.blkio_stats?.io_service_bytes_recursive ?? []).reduce(
      (a, e) => ({ read: a.read + (/read/i.test(e.op) ? e.value : 0), write: a.write + (/write/i.test(e.op) ? e.value : 0) }),
      { read: 0, write: 0 },
    );
    const last = this.lastIo.get(id);
    this.lastIo.set(id, { ...net, ...io });
    const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.cache ?? 0;
    return {
      sample: {
        cpuPercent: systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0,
        memoryBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
        memoryLimitBytes: s.memory_stats.limit ?? 0,
        pids: s.pids_stats?.current ?? 0,
        netRxBytes: last ? Math.max(0, net.rx - last.rx) : 0,
        netTxBytes: last ? Math.max(0, net.tx - last.tx) : 0,
        blockReadBytes: last ? Math.max(0, io.read - last.read) : 0,
        blockWriteBytes: last ? Math.max(0, io.write - last.write) : 0,
      },
      totals: { netRxTotalBytes: net.rx, netTxTotalBytes: net.tx, blockReadTotalBytes: io.read, blockWriteTotalBytes: io.write },
    };
  }
}

/** Field by field: an app's instances together. */
function sum(samples: Sample[]): Sample {
  const out: Sample = {};
  for (const sample of samples) for (const [k, v] of Object.entries(sample)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * The machine's CPU use since the last reading, from Node's own per-core times. Not si.currentLoad(): on
 * Linux it runs `cat /proc/stat | grep cpu` through a shell with execSync at every call.
 */
export class CpuMeter {
  private last: { busy: number; total: number } | null = null;

  constructor(private readonly read: () => CpuInfo[] = cpus) {
    this.last = this.totals();
  }

  percent(): number {
    const now = this.totals();
    const before = this.last ?? now;
    this.last = now;
    const total = now.total - before.total;
    return total > 0 ? Math.min(100, Math.max(0, ((now.busy - before.busy) / total) * 100)) : 0;
  }

  private totals(): { busy: number; total: number } {
    let busy = 0;
    let total = 0;
    for (const { times } of this.read()) {
      const all = times.user + times.nice + times.sys + times.idle + times.irq;
      total += all;
      busy += all - times.idle;
    }
    return { busy, total };
  }
}

/**
 * Bytes received and sent by every interface but loopback, from /proc/net/dev. Not si.networkStats():
 * on Linux it runs a command per interface with spawnSync, and each app's network adds interfaces, so
 * with a few apps it blocked the event loop (the API's too, in one process) for most of a sample.
 */
export async function networkTotals(file = '/proc/net/dev'): Promise<{ rx: number; tx: number }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += fields[0] ?? 0;
    tx += fields[8] ?? 0;
  }
  return { rx, tx };
}

/** The part of Docker's stats answer used here. */
interface DockerStats {
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: { inactive_file?: number; cache?: number } };
  pids_stats?: { current?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
}
