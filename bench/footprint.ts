/**
 * bench/footprint: what `npm start` costs the machine (issue 13). The compiled entry (`node dist/slipway.js`,
 * one process) against the same code run from source through tsx (`npm run dev`), in one run, each on its
 * own data dir: cold start until /healthz answers 200 (three alternating rounds), then 5 apps deployed, then
 * the processes' RSS and CPU while idle (the embedded redis-server is counted apart, as the issue does).
 *
 *   npm run build:server && npx tsx bench/footprint.ts [idleSeconds=30]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { call, tokens, upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { removeOwned, removeOwnedNetworks } from '../test/helpers/slipway';
import { loadSettings } from '@slipway/runtime/config';
import { median, saveResult, sleep } from './lib';

const idleS = Number(process.argv[2] ?? 30);
const TICKS = 100; // USER_HZ on Linux

interface Proc {
  pid: number;
  comm: string;
  rssKiB: number;
  cpuTicks: number;
}

async function tree(root: number): Promise<Proc[]> {
  const all: Array<Proc & { ppid: number }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    all.push({
      pid: Number(entry),
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
    });
  }
  const out: Proc[] = [];
  const walk = (pid: number) => {
    for (const p of all.filter((x) => x.ppid === pid)) {
      out.push(p);
      walk(p.pid);
    }
  };
  const self = all.find((p) => p.pid === root);
  if (self) out.push(self);
  walk(root);
  return out;
}

async function measure(label: string, args: string[], withApps: boolean) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'slipway-footprint-'));
  const port = await getPort();
  const prefix = `footprint${label}/`;
  const { REDIS_URL: _unset, ...env } = process.env;
  const began = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...env, PORT: String(port), SLIPWAY_GATEWAY_PORT: String(await getPort()), SLIPWAY_DATA_DIR: dataDir, SLIPWAY_IMAGE_PREFIX: prefix, SLIPWAY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (;;) {
      const health = await call(base, 'GET', '/healthz').catch(() => ({ status: 0 }));
      if (health.status === 200) break;
      if (child.exitCode !== null) throw new Error(`${label} exited: ${output}`);
      await sleep(50);
    }
    const coldStartMs = Math.round(performance.now() - began);
    if (!withApps) return { label, coldStartMs, processes: [], rssMiB: 0, redisRssMiB: 0, idleCpuPercentOfCore: 0 };
    tokens.set(base, /(slw_[A-Za-z0-9_-]{43})/.exec(output)![1]!);
    for (let i = 1; i <= 5; i++) {
      const res = await upload(base, await fixtureTgz('hello', { name: `fp${i}`, version: '1.0.0' }), 'app.tgz');
      const done = await waitForDeploy(base, res.body.deploy.id);
      if (done.status !== 'succeeded') throw new Error(`deploy ${i} ${done.status}: ${done.error?.message}`);
    }
    // Settle past the last deploy's watch window (SLIPWAY_WATCH_S, 20 s: it probes every second).
    await sleep(25_000);
    const before = await tree(child.pid!);
    await sleep(idleS * 1000);
    const after = await tree(child.pid!);
    const node = after.filter((p) => p.comm !== 'redis-server');
    const redis = after.filter((p) => p.comm === 'redis-server');
    const ticks = (ps: Proc[], from: Proc[]) => ps.reduce((sum, p) => sum + p.cpuTicks - (from.find((q) => q.pid === p.pid)?.cpuTicks ?? 0), 0);
    return {
      label,
      coldStartMs,
      processes: node.map((p) => p.comm),
      rssMiB: Math.round(node.reduce((s, p) => s + p.rssKiB, 0) / 1024),
      redisRssMiB: Math.round(redis.reduce((s, p) => s + p.rssKiB, 0) / 1024),
      idleCpuPercentOfCore: Number(((ticks(node, before) / TICKS / idleS) * 100).toFixed(2)),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    await removeOwned(prefix);
    await removeOwnedNetworks(loadSettings({ SLIPWAY_DATA_DIR: dataDir, SLIPWAY_IMAGE_PREFIX: prefix }).instance);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const COMPILED = ['dist/slipway.js'];
const SOURCE = ['--import', 'tsx', 'scripts/start.ts'];
/** Cold starts alternate, three each: the machine's noise hits both alike. */
const cold: Record<string, number[]> = { compiled: [], tsx: [] };
for (let round = 0; round < 3; round++) {
  cold.compiled!.push((await measure('compiled', COMPILED, false)).coldStartMs);
  cold.tsx!.push((await measure('tsx', SOURCE, false)).coldStartMs);
}
const compiled = { ...(await measure('compiled', COMPILED, true)), coldStartMs: median(cold.compiled!) };
const source = { ...(await measure('tsx', SOURCE, true)), coldStartMs: median(cold.tsx!) };
for (const r of [compiled, source]) {
  console.log(`${r.label.padEnd(9)} cold start ${r.coldStartMs} ms (median of 3) · ${r.processes.length} process(es) [${r.processes.join(', ')}] · idle RSS ${r.rssMiB} MiB (+ redis ${r.redisRssMiB} MiB) · idle CPU ${r.idleCpuPercentOfCore} % of a core`);
}
console.log(`compiled/tsx: cold start ${(compiled.coldStartMs / source.coldStartMs).toFixed(2)}×, RSS ${(compiled.rssMiB / source.rssMiB).toFixed(2)}×`);
await saveResult('footprint', { idleS, cold, compiled, source });
process.exit(0);
