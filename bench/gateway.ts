/**
 * bench/gateway: latency and throughput of an app through Slipway's gateway against the same container
 * hit directly on its port, alternating, in the same run:
 * - saturated: 50 concurrent connections as fast as they go (autocannon; latency there is mostly queueing,
 *   so its ratio mirrors the throughput ratio);
 * - at a fixed 1000 req/s from 50 keep-alive connections, latency timed per request in microseconds: the
 *   cost of the extra hop itself.
 *
 *   npx tsx bench/gateway.ts [seconds=10] [rounds=2]
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { median, saveResult } from './lib';

const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 2);

interface Sample {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
}

async function measure(url: string, headers: Record<string, string> = {}): Promise<Sample> {
  const r = await autocannon({ url, connections: 50, duration: seconds, headers });
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, errors: r.errors, non2xx: r.non2xx };
}

/** `rate` requests per second for `seconds`, spread over 50 keep-alive connections; latencies in ms. */
async function fixedRate(url: string, host: string | undefined, rate: number, secs: number): Promise<{ p50: number; p99: number; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 50 });
  const target = new URL(url);
  const latencies: number[] = [];
  let failed = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const began = performance.now();
      const req = request({ host: target.hostname, port: target.port, path: '/', agent, headers: host ? { host } : {} }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - began);
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * secs; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(one());
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number((latencies[Math.floor(q * (latencies.length - 1))] ?? 0).toFixed(3));
  return { p50: at(0.5), p99: at(0.99), failed };
}

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  try {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
    const deploy = await waitForDeploy(slipway.url, res.body.deploy.id);
    const direct: Sample[] = [];
    const gateway: Sample[] = [];
    for (let i = 0; i < rounds; i++) {
      direct.push(await measure(`http://127.0.0.1:${deploy.port}/`));
      gateway.push(await measure(`${slipway.gatewayUrl}/`, { host: 'hello.localhost' }));
      console.log(`round ${i + 1}: direct ${JSON.stringify(direct.at(-1))} gateway ${JSON.stringify(gateway.at(-1))}`);
    }
    const steadyDirect = await fixedRate(`http://127.0.0.1:${deploy.port}/`, undefined, 1000, 5);
    const steadyGateway = await fixedRate(slipway.gatewayUrl, 'hello.localhost', 1000, 5);
    console.log(`1000 req/s: direct ${JSON.stringify(steadyDirect)} gateway ${JSON.stringify(steadyGateway)}`);
    const pick = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
    const result = {
      date: new Date().toISOString(),
      connections: 50,
      seconds,
      rounds,
      direct: { p50Ms: pick(direct, 'p50'), p99Ms: pick(direct, 'p99'), rps: Math.round(pick(direct, 'rps')) },
      gateway: { p50Ms: pick(gateway, 'p50'), p99Ms: pick(gateway, 'p99'), rps: Math.round(pick(gateway, 'rps')) },
      p50Ratio: Number((pick(gateway, 'p50') / pick(direct, 'p50')).toFixed(2)),
      p99Ratio: Number((pick(gateway, 'p99') / pick(direct, 'p99')).toFixed(2)),
      throughputRatio: Number((pick(gateway, 'rps') / pick(direct, 'rps')).toFixed(2)),
      at1000rps: {
        direct: steadyDirect,
        gateway: steadyGateway,
        p50Ratio: Number((steadyGateway.p50 / steadyDirect.p50).toFixed(2)),
        p99Ratio: Number((steadyGateway.p99 / steadyDirect.p99).toFixed(2)),
      },
      failed: gateway.reduce((n, s) => n + s.errors + s.non2xx, 0) + steadyGateway.failed,
    };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('gateway', { ...result, samples: { direct, gateway } });
  } finally {
    await slipway.stop();
  }
}

await main();
process.exit(0);
