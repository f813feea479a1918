/**
 * bench/gateway: throughput and latency of an app through Slipway's gateway against the same container
 * hit directly on its published port (what a user reaches without Slipway), alternating, in the same run:
 * - saturated: wrk, 1 thread, 50 connections (wrk is C: the load generator takes little of the 2 cores);
 *   the container's own address on its network is measured too, as the floor;
 * - at a fixed 1000 req/s from 50 keep-alive connections, latency timed per request: the extra hop itself;
 * - across a switch: wrk through the gateway while a new version deploys; every non-2xx and socket error
 *   counts as a failed request.
 *
 *   npx tsx bench/gateway.ts [seconds=10] [rounds=3]      (needs wrk: apt-get install wrk)
 */
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { keys } from '@slipway/records/redis';
import { upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { median, parseWrk, saveResult, type WrkSample } from './lib';

const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 3);
const run = promisify(execFile);

async function wrk(url: string, host: string | undefined, secs: number): Promise<WrkSample> {
  const args = ['-t1', '-c50', `-d${secs}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url];
  const { stdout } = await run('wrk', args);
  return parseWrk(stdout);
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
  await run('wrk', ['--version']).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new Error('bench/gateway needs wrk: apt-get install wrk');
  });
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  const redis = new Redis(slipway.redisUrl);
  try {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
    const deploy = await waitForDeploy(slipway.url, res.body.deploy.id);
    const address = await redis.hget(keys.app('hello'), 'address');
    const direct: WrkSample[] = [];
    const gateway: WrkSample[] = [];
    const container: WrkSample[] = [];
    // Warm-up, not counted: the gateway's hot path compiled by V8 and its upstream pool filled, as on a server
    // that has been running (the first rounds measured cold were 0.56–0.60×, the later ones 0.76–0.86×).
    await wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', 10);
    await wrk(`http://127.0.0.1:${deploy.port}/`, undefined, 5);
    for (let i = 0; i < rounds; i++) {
      direct.push(await wrk(`http://127.0.0.1:${deploy.port}/`, undefined, seconds));
      gateway.push(await wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', seconds));
      if (address) container.push(await wrk(`http://${address}/`, undefined, seconds));
      console.log(`round ${i + 1}: direct ${JSON.stringify(direct.at(-1))} gateway ${JSON.stringify(gateway.at(-1))} container ${JSON.stringify(container.at(-1))}`);
    }
    const steadyDirect = await fixedRate(`http://127.0.0.1:${deploy.port}/`, undefined, 1000, 5);
    const steadyGateway = await fixedRate(slipway.gatewayUrl, 'hello.localhost', 1000, 5);
    console.log(`1000 req/s: direct ${JSON.stringify(steadyDirect)} gateway ${JSON.stringify(steadyGateway)}`);

    // A switch under load: wrk runs through the gateway from before the upload until after the new version serves.
    const switchSecs = 30;
    const during = wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', switchSecs);
    await new Promise((r) => setTimeout(r, 2000));
    const next = await upload(slipway.url, await fixtureTgz('hello', { version: '2.0.0' }), 'hello.tgz');
    const switched = await waitForDeploy(slipway.url, next.body.deploy.id);
    const acrossSwitch = await during;
    console.log(`across a switch (${switched.status}): ${JSON.stringify(acrossSwitch)}`);

    const pick = (xs: WrkSample[], k: keyof WrkSample) => median(xs.map((x) => x[k]));
    const summary = (xs: WrkSample[]) => ({ rps: pick(xs, 'rps'), p50Ms: pick(xs, 'p50Ms'), p99Ms: pick(xs, 'p99Ms') });
    const result = {
      date: new Date().toISOString(),
      tool: 'wrk -t1 -c50',
      seconds,
      rounds,
      direct: summary(direct),
      gateway: summary(gateway),
      containerAddress: container.length ? summary(container) : null,
      throughputRatio: Number((pick(gateway, 'rps') / pick(direct, 'rps')).toFixed(2)),
      p50Ratio: Number((pick(gateway, 'p50Ms') / pick(direct, 'p50Ms')).toFixed(2)),
      at1000rps: {
        direct: steadyDirect,
        gateway: steadyGateway,
        p50Ratio: Number((steadyGateway.p50 / steadyDirect.p50).toFixed(2)),
        p99Ratio: Number((steadyGateway.p99 / steadyDirect.p99).toFixed(2)),
      },
      acrossSwitch: { status: switched.status, ...acrossSwitch },
      failed: gateway.reduce((n, s) => n + s.failed, 0) + steadyGateway.failed + acrossSwitch.failed,
    };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('gateway', { ...result, samples: { direct, gateway, container } });
  } finally {
    redis.disconnect();
    await slipway.stop();
  }
}

await main();
process.exit(0);
