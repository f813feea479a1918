/** Shared by the benchmarks: medians, waiting for a first 200, saving results. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { get } from '../test/helpers/api';

// As in vitest.config.ts: no Ryuk sidecar (it would need a registry), and containers reached on localhost.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls every 25 ms until the port answers 200. */
export async function firstOk(port: number, host = '127.0.0.1'): Promise<void> {
  for (;;) {
    try {
      if ((await get(`http://${host}:${port}/`, 1000)).status === 200) return;
    } catch {
      // not yet
    }
    await sleep(25);
  }
}

export async function saveResult(name: string, result: object): Promise<void> {
  await mkdir(path.join('bench', 'results'), { recursive: true });
  await writeFile(path.join('bench', 'results', `${name}-${Date.now()}.json`), JSON.stringify(result, null, 2));
}

/** What wrk (`--latency`) reports: throughput, latency quantiles, and every non-2xx/3xx or socket error. */
export interface WrkSample {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

/** wrk's duration units (us, ms, s) in milliseconds. */
function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

export function parseWrk(stdout: string): WrkSample {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1])),
    p50Ms: ms(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    p99Ms: ms(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    failed: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) + (socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0),
  };
}
