/**
 * Observability (issue 5): app logs live and in history, kept after the container is replaced, with
 * no gap and no duplicate across a worker restart; custom log files; the machine's parameters and
 * history; container stats; Slipway's own logs; Prometheus.
 */
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '@slipway/contracts/logs';
import { call, followSse, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
const logs = async (params: string) => (await call<{ lines: LogLine[] }>(slipway.url, 'GET', `/api/apps/chatty/logs?${params}`)).body.lines;
const seqOf = (line: LogLine) => Number(/seq=(\d+)/.exec(line.text)?.[1]);

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Reads SSE `log` events for `ms`, or until `enough` says so. */
async function live(path: string, ms: number, enough: (lines: LogLine[]) => boolean = () => false): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  await followSse(`${slipway.url}${path}`, ({ event, data }) => {
    if (event === 'log') lines.push(data as LogLine);
    return !enough(lines);
  }, AbortSignal.timeout(ms));
  return lines;
}

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_SAMPLE_S: '1' } });
  await call(slipway.url, 'PUT', '/api/apps/chatty', { logFiles: ['/app/logs/*.log'] });
  const res = await upload(slipway.url, await fixtureTgz('chatty', { version: '1.0.0' }), 'chatty.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
});
afterAll(async () => {
  await slipway?.stop();
});

describe('app logs', () => {
  it('streams lines live from the container, stdout, stderr and the log file', async () => {
    const lines = await live('/api/apps/chatty/logs/stream', 10_000, (l) => new Set(l.map((x) => x.stream)).size === 3 && l.length > 20);
    expect(lines.length).toBeGreaterThan(20);
    expect(new Set(lines.map((l) => l.stream))).toEqual(new Set(['stdout', 'stderr', '/app/logs/app.log']));
    expect(lines[0]).toMatchObject({ app: 'chatty', version: '1.0.0' });
    const stderrOnly = await live('/api/apps/chatty/logs/stream?stream=stderr', 1500);
    expect(stderrOnly.length).toBeGreaterThan(0);
    expect(stderrOnly.every((l) => l.stream === 'stderr')).toBe(true);
  });

  it('searches history by text, regex, stream and time, returning exactly the matching lines', async () => {
    await until(() => logs('tail=1&q=seq=30%20'), (l) => l.length > 0);
    const exact = await logs('q=seq%3D30%20');
    expect(exact.map((l) => l.text)).toEqual(['seq=30 warn something odd']);
    const regex = await logs(`q=${encodeURIComponent('/^seq=1\\d /')}`);
    expect(regex.map(seqOf)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const stderr = await logs('stream=stderr&tail=5');
    expect(stderr).toHaveLength(5);
    expect(stderr.every((l) => l.stream === 'stderr' && seqOf(l) % 10 === 0)).toBe(true);
    const files = await logs(`stream=${encodeURIComponent('/app/logs/app.log')}&tail=3`);
    expect(files.map((l) => l.text).every((t) => /^file seq=\d+$/.test(t))).toBe(true);
    const all = await logs('tail=100');
    const mid = all[50]!.ts;
    expect((await logs(`tail=100&since=${mid}`)).every((l) => l.ts >= mid)).toBe(true);
    // Oldest first (one answer, compared with itself sorted: the app keeps logging between two calls).
    const newest = (await logs('tail=3')).map((l) => l.ts);
    expect(newest).toEqual([...newest].sort());
    expect((await call(slipway.url, 'GET', `/api/apps/chatty/logs?q=${encodeURIComponent('/[/')}`)).status).toBe(400);
    expect((await call(slipway.url, 'GET', '/api/apps/chatty/logs?tail=0')).status).toBe(400);
    const text = await fetch(`${slipway.url}/api/apps/chatty/logs?tail=2&format=text`, { headers: slipway.auth });
    expect(text.headers.get('content-disposition')).toContain('chatty-logs.txt');
    expect((await text.text()).trim().split('\n')).toHaveLength(2);
  });

  it('loses and repeats no line across a restart of the worker', async () => {
    const before = await logs('tail=1&q=seq=');
    await slipway.killWorker('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500)); // the app keeps logging; Docker keeps its output
    await slipway.startWorker();
    const last = seqOf(before[0]!);
    const after = await until(() => logs('tail=10000&q=seq%3D'), (l) => Math.max(...l.map(seqOf)) > last + 150, 30_000);
    const seqs = after.filter((l) => l.stream === 'stdout' || l.stream === 'stderr').map(seqOf).sort((a, b) => a - b);
    const window = seqs.filter((s) => s >= last - 20 && s <= last + 120);
    expect(window.length).toBe(141);
    expect(new Set(window).size).toBe(window.length);
  });

  it('writes no line twice when the worker died between writing a batch and saving its cursor', async () => {
    await slipway.killWorker('SIGKILL');
    // The history holds lines the saved cursors do not know of: put the cursors 30 lines back.
    const redis = new Redis(slipway.redisUrl);
    try {
      const saved = await redis.hgetall('slipway:logcursors');
      const recent = await logs('tail=60&q=seq%3D');
      const at = (stream: string) => recent.filter((l) => l.stream === stream).at(-30) ?? recent.find((l) => l.stream === stream);
      for (const [container, raw] of Object.entries(saved)) {
        const position = JSON.parse(raw) as Record<string, { ts: string; count: number } | null>;
        for (const stream of ['stdout', 'stderr']) {
          const back = at(stream);
          if (position[stream] && back) position[stream] = { ts: back.ts, count: 1 };
        }
        await redis.hset('slipway:logcursors', container, JSON.stringify(position));
      }
    } finally {
      redis.disconnect();
    }
    const last = Math.max(...(await logs('tail=1&q=seq=')).map(seqOf));
    await slipway.startWorker();
    const after = await until(() => logs('tail=10000&q=seq%3D'), (l) => Math.max(...l.map(seqOf)) > last + 100, 30_000);
    const window = after.filter((l) => l.stream === 'stdout' || l.stream === 'stderr').map(seqOf).filter((s) => s >= last - 40 && s <= last + 80);
    expect(new Set(window).size).toBe(window.length);
    expect(window.length).toBe(121);
  });

  it('keeps the lines of a replaced version', async () => {
    const res = await upload(slipway.url, await fixtureTgz('chatty', { version: '2.0.0' }), 'chatty.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    await until(() => logs('tail=5&version=2.0.0'), (l) => l.length === 5);
    const v1 = await logs('tail=20&version=1.0.0');
    expect(v1).toHaveLength(20);
    expect(v1.every((l) => l.version === '1.0.0')).toBe(true);
  });
});

describe('machine and containers', () => {
  it('reports the Linux parameters and the machine with real values', async () => {
    const { body } = await call(slipway.url, 'GET', '/api/system');
    const { system } = body;
    for (const name of ['vm.swappiness', 'vm.overcommit_memory', 'fs.file-max', 'fs.inotify.max_user_watches', 'net.core.somaxconn', 'net.ipv4.ip_local_port_range', 'kernel.pid_max']) {
      const real = (await readFile(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8')).trim().replace(/\s+/g, ' ');
      expect(system.params.sysctl[name], name).toBe(real);
    }
    expect(system.params.limits.max_open_files.soft).toMatch(/^\d+|unlimited$/);
    expect(system.memory.totalBytes).toBeGreaterThan(0);
    expect(system.cpu.cores).toBeGreaterThan(0);
    expect(system.kernel).toBeTruthy();
    expect(system.disks.length).toBeGreaterThan(0);
    expect(system.network.length).toBeGreaterThan(0);
    const docker = await until(async () => (await call(slipway.url, 'GET', '/api/system')).body.system.docker, (d) => d !== null);
    expect(docker.version).toMatch(/^\d+\./);
  });

  it('keeps a history whose hourly point is the mean of its samples', async () => {
    const series = await until(async () => (await call(slipway.url, 'GET', '/api/system/metrics?range=1h&step=1m')).body.series, (s: unknown[]) => s.length > 0);
    expect(series[0]).toEqual(expect.objectContaining({ cpuPercent: expect.any(Number), memUsedBytes: expect.any(Number), memTotalBytes: expect.any(Number), diskUsedBytes: expect.any(Number) }));
    const redis = new Redis(slipway.redisUrl);
    const lastHour = async () => (await call(slipway.url, 'GET', '/api/system/metrics?range=2h&step=1h')).body.series.at(-1);
    // The sampler keeps adding to the current hour: compare only an answer read while its bucket held still.
    const { hour, bucket } = await until(async () => {
      const ts = Date.parse((await lastHour()).ts);
      const before = await redis.hgetall(`slipway:metrics:host:h:${ts}`);
      const hour = await lastHour();
      const bucket = await redis.hgetall(`slipway:metrics:host:h:${ts}`);
      return { hour, bucket, still: Date.parse(hour.ts) === ts && before.n === bucket.n };
    }, (r) => r.still);
    await redis.quit();
    expect(Number(bucket.n)).toBeGreaterThan(1);
    expect(hour.memTotalBytes).toBeCloseTo(Number(bucket.memTotalBytes) / Number(bucket.n), 0);
    expect(hour.memUsedBytes).toBeCloseTo(Number(bucket.memUsedBytes) / Number(bucket.n), 0);
    expect((await call(slipway.url, 'GET', '/api/system/metrics?range=30d')).status).toBe(400);
  });

  it('samples the app container', async () => {
    // The engine's first answer for a just-started container can lack the pid count: the next sample has it.
    const stats = await until(async () => (await call(slipway.url, 'GET', '/api/apps/chatty/stats')).body, (b) => b.stats !== null && b.stats.pids > 0);
    expect(stats.stats).toEqual(expect.objectContaining({ memoryBytes: expect.any(Number), memoryLimitBytes: 512 * 1024 * 1024, pids: expect.any(Number) }));
    expect(stats.stats.pids).toBeGreaterThan(0);
    const series = await until(async () => (await call(slipway.url, 'GET', '/api/apps/chatty/stats/series?range=1h')).body.series, (s: unknown[]) => s.length > 0);
    expect(series[0]).toEqual(expect.objectContaining({ cpuPercent: expect.any(Number), memoryBytes: expect.any(Number) }));
  });
});

describe('Slipway itself', () => {
  it('keeps its own structured logs, filtered by level', async () => {
    const info = (await call(slipway.url, 'GET', '/api/system/logs?tail=500&level=info')).body.lines;
    expect(new Set(info.map((l: { service: string }) => l.service))).toEqual(expect.objectContaining(new Set(['api', 'worker'])));
    expect(info.some((l: { msg: string }) => l.msg === 'deploy succeeded')).toBe(true);
    const warn = (await call(slipway.url, 'GET', '/api/system/logs?level=warn')).body.lines;
    expect(warn.every((l: { level: string }) => ['warn', 'error', 'fatal'].includes(l.level))).toBe(true);
    expect((await call(slipway.url, 'GET', '/api/system/logs?level=loud')).status).toBe(400);
  });

  it('exposes Prometheus metrics that parse', async () => {
    const res = await fetch(`${slipway.url}/metrics`, { headers: slipway.auth });
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheus(await res.text());
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('slipway_deploys_total')?.metrics).toContainEqual(expect.objectContaining({ labels: { kind: 'deploy', status: 'succeeded' }, value: '2' }));
    expect(byName.get('slipway_deploy_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(byName.get('slipway_queue_jobs')?.type).toBe('GAUGE');
    expect(byName.has('slipway_app_memory_bytes')).toBe(true);
    expect(byName.has('slipway_api_process_cpu_user_seconds_total')).toBe(true);
  });
});
