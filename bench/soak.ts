/**
 * bench/soak (issue 9): Slipway under steady use for a long time. A deploy every 20 s across 5 apps with
 * a rollback every fourth time, a chatty app logging ~1,000 lines/s, 50 live log viewers, 20 requests/s
 * through the gateway. Reports failed requests, each process's RSS and descriptors at start and end, Redis
 * memory, and the disk used by kept images and logs (retention at work).
 *
 *   npx tsx bench/soak.ts [minutes=30]
 */
import { execFile } from 'node:child_process';
import { Agent } from 'node:http';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { authHeaders, call, upload, viaGateway, waitForDeploy } from '../test/helpers/api';
import { dockerfileApp, fixtureEntries, tarOf } from '../test/helpers/archives';
import { docker, processUsage, startSlipway, type Slipway } from '../test/helpers/slipway';
import { saveResult, sleep } from './lib';

const minutes = Number(process.argv[2] ?? 30);
const APPS = ['soak1', 'soak2', 'soak3', 'soak4', 'soak5'];
const DEPLOY_EVERY_MS = 20_000;
const REQUESTS_PER_S = 20;
const VIEWERS = 50;
const run = promisify(execFile);

async function snapshot(slipway: Slipway, redis: Redis) {
  const procs = Object.fromEntries(
    await Promise.all((['api', 'worker', 'gateway'] as const).map(async (name) => [name, await processUsage(slipway[name].pid!)] as const)),
  );
  const info = await redis.info('memory');
  const redisMiB = Math.round((Number(/used_memory:(\d+)/.exec(info)?.[1]) / 1048576) * 10) / 10;
  const du = async (sub: string) => Number((await run('du', ['-sk', `${slipway.dataDir}/${sub}`]).catch(() => ({ stdout: '0' }))).stdout.split('\t')[0]) / 1024;
  const images = await docker.listImages({ filters: { label: [`io.slipway.instance=${slipway.instance}`] } });
  // Every image here is built FROM node:20-slim; what each adds is its size above that base.
  const base = (await docker.getImage('node:20-slim').inspect()).Size;
  return {
    at: new Date().toISOString(),
    procs,
    redisMiB,
    logsMiB: Math.round(await du('logs')),
    archivesMiB: Math.round((await du('archives')) * 10) / 10,
    images: images.length,
    imagesOwnMiB: Math.round((images.reduce((sum, i) => sum + i.Size - base, 0) / 1048576) * 10) / 10,
  };
}

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_LOG_RETENTION_MB: '64', SLIPWAY_WATCH_S: '5' } });
  const redis = new Redis(slipway.redisUrl);
  const stop = new AbortController();
  try {
    // The apps, and chatty at ~1,000 lines/s.
    const versions = new Map<string, number>();
    for (const app of APPS) {
      const res = await upload(slipway.url, await dockerfileApp(app, '1'), 'x.tgz', { app, version: '1' });
      await waitForDeploy(slipway.url, res.body.deploy.id);
      versions.set(app, 1);
    }
    await call(slipway.url, 'PUT', '/api/apps/chatty', { env: { CHATTY_RATE: '1000' } });
    const chatty = await upload(slipway.url, await tarOf(await fixtureEntries('chatty')), 'chatty.tgz');
    await waitForDeploy(slipway.url, chatty.body.deploy.id);
    await sleep(3000);
    const start = await snapshot(slipway, redis);

    // 50 viewers; a viewer whose stream ends is counted and reconnects.
    const viewerStats = { bytes: 0, drops: 0 };
    const logsUrl = `${slipway.url}/api/apps/chatty/logs/stream`;
    const viewers = Array.from({ length: VIEWERS }, async () => {
      while (!stop.signal.aborted) {
        try {
          const res = await fetch(logsUrl, { headers: authHeaders(logsUrl), signal: stop.signal });
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) viewerStats.bytes += chunk.length;
        } catch {
          // aborted at the end, or dropped
        }
        if (!stop.signal.aborted) viewerStats.drops++;
      }
    });

    // 20 requests/s through the gateway, across the apps.
    const traffic = { sent: 0, failed: [] as string[] };
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const ticker = setInterval(() => {
      const app = APPS[traffic.sent % APPS.length]!;
      traffic.sent++;
      viaGateway(slipway.gatewayUrl, `${app}.localhost`, '/', agent).then(
        (r) => r.status !== 200 && traffic.failed.push(`${new Date().toISOString()} ${app} ${r.status}`),
        (err: Error) => traffic.failed.push(`${new Date().toISOString()} ${app} ${err.message}`),
      );
    }, 1000 / REQUESTS_PER_S);

    // A deploy every 20 s, every fourth one a rollback.
    const outcomes = { deploys: 0, deployFailed: 0, rollbacks: 0, rollbackFailed: 0 };
    const durations: number[] = [];
    const pending: Promise<void>[] = [];
    const samples = [start];
    const endAt = Date.now() + minutes * 60_000;
    for (let i = 0; Date.now() < endAt; i++) {
      const app = APPS[i % APPS.length]!;
      const rollback = i % 4 === 3 && versions.get(app)! > 1;
      const began = Date.now();
      const res = rollback
        ? await call(slipway.url, 'POST', `/api/apps/${app}/rollback`, {})
        : await upload(slipway.url, await dockerfileApp(app, String(versions.get(app)! + 1)), 'x.tgz', { app, version: String(versions.get(app)! + 1) });
      if (!rollback) versions.set(app, versions.get(app)! + 1);
      if (res.status !== 202) {
        outcomes[rollback ? 'rollbackFailed' : 'deployFailed']++;
        console.log(`${app}: ${res.status} ${JSON.stringify(res.body?.error)}`);
      } else {
        pending.push(
          waitForDeploy(slipway.url, res.body.deploy.id).then((d) => {
            outcomes[rollback ? 'rollbacks' : 'deploys']++;
            if (d.status !== 'succeeded') outcomes[rollback ? 'rollbackFailed' : 'deployFailed']++;
            durations.push(Date.now() - began);
          }),
        );
      }
      if (i % 3 === 2) {
        samples.push(await snapshot(slipway, redis));
        console.log(JSON.stringify({ minute: Math.round((Date.now() - (endAt - minutes * 60_000)) / 60_000), outcomes, requests: traffic.sent, failed: traffic.failed.length, drops: viewerStats.drops, ...samples.at(-1) }));
      }
      await sleep(Math.max(0, began + DEPLOY_EVERY_MS - Date.now()));
    }
    await Promise.all(pending);
    clearInterval(ticker);
    await sleep(1000);
    const end = await snapshot(slipway, redis);
    stop.abort();
    await Promise.all(viewers);
    agent.destroy();

    const result = {
      date: new Date().toISOString(),
      minutes,
      outcomes,
      deployMedianMs: [...durations].sort((a, b) => a - b)[Math.floor(durations.length / 2)],
      requests: { sent: traffic.sent, failed: traffic.failed.length, firstFailures: traffic.failed.slice(0, 10) },
      viewers: { count: VIEWERS, drops: viewerStats.drops, MiBReceived: Math.round(viewerStats.bytes / 1048576) },
      start,
      end,
      samples,
    };
    console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
    await saveResult('soak', result);
  } finally {
    stop.abort();
    redis.disconnect();
    await slipway.stop();
  }
}

await main();
process.exit(0);
