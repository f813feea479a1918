/**
 * bench/rollback: from the rollback request to the old version answering at the app's stable address
 * (through the gateway), against raw docker in the same run: `docker run` of the same kept image → its
 * first 200. Alternating runs. Also reported: Slipway's time until the rollback is `succeeded` (the
 * previous container stopped and removed, records final), which raw docker does not do.
 *
 *   npx tsx bench/rollback.ts [runs=7]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { call, upload, viaGateway, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { firstOk, median, saveResult, sleep } from './lib';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 7);

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  const raw: number[] = [];
  const through: number[] = [];
  const settled: number[] = [];
  let previous: string | null = null;
  try {
    for (const version of ['1.0.0', '2.0.0']) {
      const res = await upload(slipway.url, await fixtureTgz('hello', { version }), 'hello.tgz');
      await waitForDeploy(slipway.url, res.body.deploy.id);
    }
    for (let i = 1; i <= runs; i++) {
      const target = i % 2 ? '1.0.0' : '2.0.0';
      const image = `${slipway.prefix}hello:${target}`;

      let began = performance.now();
      const { stdout } = await run('docker', ['run', '-d', '--init', '-e', 'PORT=3000', '-p', '127.0.0.1::3000', image]);
      const container = stdout.trim();
      const port = Number((await run('docker', ['port', container, '3000/tcp'])).stdout.trim().split(':').pop());
      await firstOk(port);
      raw.push(performance.now() - began);
      if (previous) await run('docker', ['rm', '-f', previous]);
      previous = container;

      began = performance.now();
      let deploy = (await call(slipway.url, 'POST', '/api/apps/hello/rollback', { version: target })).body.deploy;
      const expected = `hello ${target}`;
      for (;;) {
        const res = await viaGateway(slipway.gatewayUrl, 'hello.localhost').catch(() => null);
        if (res?.text.trim() === expected) break;
        await sleep(25);
      }
      through.push(performance.now() - began);
      while (deploy.status !== 'succeeded' && deploy.status !== 'failed') {
        await sleep(25);
        deploy = (await call(slipway.url, 'GET', `/api/deploys/${deploy.id}`)).body.deploy;
      }
      if (deploy.status !== 'succeeded') throw new Error(`rollback failed: ${JSON.stringify(deploy.error)}`);
      settled.push(performance.now() - began);
      console.log(`run ${i} (→ ${target}): raw docker ${raw.at(-1)!.toFixed(0)} ms, slipway answering ${through.at(-1)!.toFixed(0)} ms, settled ${settled.at(-1)!.toFixed(0)} ms`);
    }
    const result = {
      date: new Date().toISOString(),
      runs,
      rawMedianMs: Math.round(median(raw)),
      slipwayMedianMs: Math.round(median(through)),
      ratio: Number((median(through) / median(raw)).toFixed(3)),
      slipwaySettledMedianMs: Math.round(median(settled)),
    };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('rollback', { ...result, raw, through, settled });
  } finally {
    if (previous) await run('docker', ['rm', '-f', previous]).catch(() => {});
    await slipway.stop();
  }
}

await main();
process.exit(0);
