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
