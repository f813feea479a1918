/**
 * bench/logs: how long a line takes from the app's write to an SSE viewer (p50/p99), with 1, 10 and 100
 * viewers while the app writes 10 000 lines/s, and the CPU Slipway's worker and API spend on it.
 * Latency is measured on up to 5 viewers that parse every line; the others read and discard the bytes
 * (parsing a million lines a second in this one process would measure the bench, not Slipway).
 *
 *   npx tsx bench/logs.ts [seconds=10]
 */
import { readFile } from 'node:fs/promises';
import { authHeaders, call, followSse, upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { saveResult, sleep } from './lib';

const seconds = Number(process.argv[2] ?? 10);
const TICKS = 100; // clock ticks per second (Linux USER_HZ)

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function viewer(url: string, measure: boolean, latencies: number[], stop: AbortSignal): Promise<number> {
  let lines = 0;
  if (!measure) {
    // The other viewers only hold their stream open and drain it: parsing theirs would load this client, not Slipway.
    try {
      const res = await fetch(url, { headers: authHeaders(url), signal: stop });
      for await (const _ of res.body as AsyncIterable<Uint8Array>) if (stop.aborted) break;
    } catch {
      // aborted: the run is over
    }
    return 0;
  }
  await followSse(url, ({ event, data, receivedAt }) => {
    const t = event === 'log' ? /^t=(\d+) /.exec((data as { text: string }).text)?.[1] : undefined;
    if (t) {
      latencies.push(receivedAt - Number(t));
      lines++;
    }
  }, stop);
  return lines;
}

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  try {
    const res = await upload(slipway.url, await fixtureTgz('firehose', { version: '1.0.0' }), 'firehose.tgz');
    await waitForDeploy(slipway.url, res.body.deploy.id);
    await sleep(2000);
    const results = [];
    for (const viewers of [1, 10, 100]) {
      const abort = new AbortController();
      const latencies: number[] = [];
      const url = `${slipway.url}/api/apps/firehose/logs/stream`;
      const running = Array.from({ length: viewers }, (_, i) => viewer(url, i < 5, latencies, abort.signal));
      await sleep(1000); // connect and settle
      latencies.length = 0;
      const cpuBefore = { worker: await cpuSeconds(slipway.worker.pid!), api: await cpuSeconds(slipway.api.pid!) };
      await sleep(seconds * 1000);
      const cpuAfter = { worker: await cpuSeconds(slipway.worker.pid!), api: await cpuSeconds(slipway.api.pid!) };
      const sample = [...latencies].sort((a, b) => a - b);
      abort.abort();
      await Promise.all(running);
      const q = (p: number) => sample[Math.floor(p * (sample.length - 1))] ?? NaN;
      const row = {
        viewers,
        linesMeasured: sample.length,
        p50Ms: q(0.5),
        p99Ms: q(0.99),
        workerCpuPercent: Math.round(((cpuAfter.worker - cpuBefore.worker) / seconds) * 100),
        apiCpuPercent: Math.round(((cpuAfter.api - cpuBefore.api) / seconds) * 100),
      };
      console.log(JSON.stringify(row));
      results.push(row);
    }
    const history = (await call(slipway.url, 'GET', '/api/apps/firehose/logs?tail=1')).body.lines[0];
    const result = { date: new Date().toISOString(), linesPerSecond: 10_000, seconds, results, lastLineKept: history?.text.slice(0, 40) };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('logs', result);
  } finally {
    await slipway.stop();
  }
}

await main();
process.exit(0);
