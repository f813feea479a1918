/**
 * bench/sampler: what the metrics sampler costs the worker. The worker's CPU is read from /proc while it
 * idles for a minute with three apps running, once sampling every 10 s (the default) and once with
 * sampling practically off (every hour); the difference is the sampler's share of one core.
 *
 *   npx tsx bench/sampler.ts [seconds=60]
 */
import { readFile } from 'node:fs/promises';
import { upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { saveResult, sleep } from './lib';

const seconds = Number(process.argv[2] ?? 60);

/** CPU seconds of a process and of its reaped children (systeminformation's helpers). */
async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function workerCpu(sampleS: string): Promise<number> {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_SAMPLE_S: sampleS } });
  try {
    for (const name of ['one', 'two', 'three']) {
      const res = await upload(slipway.url, await fixtureTgz('hello', { name, version: '1.0.0' }), `${name}.tgz`);
      await waitForDeploy(slipway.url, res.body.deploy.id);
    }
    await sleep(5000);
    const before = await cpuSeconds(slipway.worker.pid!);
    await sleep(seconds * 1000);
    return ((await cpuSeconds(slipway.worker.pid!)) - before) / seconds;
  } finally {
    await slipway.stop();
  }
}

const sampling = await workerCpu('10');
const idle = await workerCpu('3600');
const result = {
  date: new Date().toISOString(),
  seconds,
  apps: 3,
  workerCpuPercentSampling10s: Number((sampling * 100).toFixed(2)),
  workerCpuPercentSamplerOff: Number((idle * 100).toFixed(2)),
  samplerShareOfOneCore: Number(((sampling - idle) * 100).toFixed(2)),
};
console.log(JSON.stringify(result, null, 2));
await saveResult('sampler', result);
process.exit(0);
