/**
 * bench/deploy: a no-dependency app deployed through Slipway against the raw docker CLI doing the same
 * work in the same run (docker build of the same context + docker run + first HTTP 200 + stopping the
 * previous container), alternating, warm layer cache, each run a new version with one source file
 * changed. Slipway is timed from the upload until the new version answers through the gateway. Then a
 * 1 GiB upload and the API's RSS growth while it streams to disk.
 *
 *   npx tsx bench/deploy.ts [runs=5]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { call, upload, viaGateway, waitForDeploy } from '../test/helpers/api';
import { FIXTURES, tarOf, type Entry } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { startScript, templateFor } from '../services/worker/src/stages/recipe';
import { installManifest } from '../services/worker/src/stages/manifests';
import { Redis } from 'ioredis';
import { readEvents } from '@slipway/records/events';
import { firstOk, median, saveResult, sleep } from './lib';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 5);

/**
 * The hello fixture as version 1.0.<n> (it answers `hello 1.0.<n>`, so the new version is told apart through
 * the gateway) with a marker file that changes every run: a version bump with a code-only change.
 */
async function appEntries(marker: string, n: number): Promise<Entry[]> {
  const dir = path.join(FIXTURES, 'hello');
  const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  return [
    { name: 'package.json', content: JSON.stringify({ ...manifest, version: `1.0.${n}` }, null, 2) },
    { name: 'server.js', content: await readFile(path.join(dir, 'server.js')) },
    { name: 'marker.txt', content: marker },
  ];
}

/** The context Slipway's template build sends, laid out on disk for `docker build`. */
async function rawContext(marker: string, n: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-bench-'));
  for (const e of await appEntries(marker, n)) await writeFile(path.join(dir, e.name), e.content ?? '');
  await mkdir(path.join(dir, '.slipway', 'deps'), { recursive: true });
  // The template as Slipway sends it for this app.
  await writeFile(path.join(dir, '.slipway', 'Dockerfile'), await templateFor(dir));
  await writeFile(path.join(dir, '.slipway', 'start.sh'), await startScript(dir), { mode: 0o755 });
  await writeFile(path.join(dir, '.slipway', 'deps', '.keep'), '');
  // The install manifest as Slipway sends it (without the version), so both sides reuse the install layer.
  await writeFile(path.join(dir, '.slipway', 'deps', 'package.json'), installManifest('package.json', await readFile(path.join(dir, 'package.json'))));
  return dir;
}

async function rawDeploy(i: number, previous: string | null): Promise<{ ms: number; container: string }> {
  const ctx = await rawContext(`raw ${i} ${Date.now()}`, i);
  const began = performance.now();
  await run('docker', ['build', '-q', '-f', path.join(ctx, '.slipway/Dockerfile'), '--build-arg', 'BASE_IMAGE=node:20-slim', '-t', `slipway-bench-raw:${i}`, ctx]);
  const { stdout } = await run('docker', ['run', '-d', '--init', '-e', 'PORT=3000', '-p', '127.0.0.1::3000', `slipway-bench-raw:${i}`]);
  const container = stdout.trim();
  const port = Number((await run('docker', ['port', container, '3000/tcp'])).stdout.trim().split(':').pop());
  await firstOk(port);
  if (previous) await run('docker', ['rm', '-f', previous]);
  const ms = performance.now() - began;
  await rm(ctx, { recursive: true, force: true });
  return { ms, container };
}

/**
 * Where a deploy's time went, from the upload's start to the first 200 through the gateway: each stage's
 * span from its event's stream id (Redis stamps ids in ms). `upload` ends at the first stage event and
 * `done` runs from the last one to the first answer (the gateway learning the new route).
 */
async function stagesOf(redis: Redis, deployId: string, began: number, answered: number): Promise<Record<string, number>> {
  const stamps = (await readEvents(redis, deployId))
    .filter((e) => e.event.type === 'stage')
    .map((e) => ({ stage: (e.event as { stage: string }).stage, at: Number(e.id.split('-')[0]) }));
  const spans: Record<string, number> = {};
  let from = began;
  let name = 'upload';
  for (const { stage, at } of stamps) {
    spans[name] = (spans[name] ?? 0) + at - from;
    from = at;
    name = stage;
  }
  spans[name] = (spans[name] ?? 0) + answered - from;
  return spans;
}

/** Polls the gateway every 25 ms until it answers 200 with `text`; gives up when the deploy fails. */
async function answersThroughGateway(gatewayUrl: string, text: string, deployId: string, api: string): Promise<void> {
  for (let polls = 0; ; polls++) {
    const res = await viaGateway(gatewayUrl, 'bench.localhost').catch(() => null);
    if (res?.status === 200 && res.text.trim() === text) return;
    if (polls % 40 === 39 && (await call(api, 'GET', `/api/deploys/${deployId}`)).body.deploy.status === 'failed') throw new Error(`deploy ${deployId} failed`);
    await sleep(25);
  }
}

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_MAX_UPLOAD_MB: '2048', SLIPWAY_LOG_LEVEL: 'warn' } });
  const raw: number[] = [];
  const through: number[] = [];
  const spans: Array<Record<string, number>> = [];
  const redis = new Redis(slipway.redisUrl);
  let previous: string | null = null;
  try {
    // Warm both caches once (base image layers, the dependency layer).
    previous = (await rawDeploy(0, null)).container;
    const warm = await upload(slipway.url, await tarOf(await appEntries('warm', 0)), 'hello.tgz', { app: 'bench', version: '0' });
    await waitForDeploy(slipway.url, warm.body.deploy.id);

    for (let i = 1; i <= runs; i++) {
      const r = await rawDeploy(i, previous);
      previous = r.container;
      raw.push(r.ms);

      const archive = await tarOf(await appEntries(`slipway ${i} ${Date.now()}`, i));
      const began = performance.now();
      const beganAt = Date.now();
      const res = await upload(slipway.url, archive, 'hello.tgz', { app: 'bench', version: String(i) });
      // Timed until the new version answers at the app's address, through the gateway.
      await answersThroughGateway(slipway.gatewayUrl, `hello 1.0.${i}`, res.body.deploy.id, slipway.url);
      through.push(performance.now() - began);
      spans.push(await stagesOf(redis, res.body.deploy.id, beganAt, Date.now()));
      const deploy = await waitForDeploy(slipway.url, res.body.deploy.id);
      if (deploy.status !== 'succeeded') throw new Error(`deploy failed: ${JSON.stringify(deploy.error)}`);
      const stages = Object.entries(spans.at(-1)!).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`run ${i}: raw docker ${raw.at(-1)!.toFixed(0)} ms, slipway ${through.at(-1)!.toFixed(0)} ms (${stages})`);
    }

    const rss = await bigUpload(slipway.url, slipway.api.pid!, slipway.token);
    const result = {
      date: new Date().toISOString(),
      runs,
      rawMedianMs: Math.round(median(raw)),
      slipwayMedianMs: Math.round(median(through)),
      ratio: Number((median(through) / median(raw)).toFixed(3)),
      stageMedianMs: Object.fromEntries(Object.keys(spans[0] ?? {}).map((k) => [k, median(spans.map((s) => s[k] ?? 0))])),
      upload1GiB: rss,
    };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('deploy', { ...result, raw, through });
  } finally {
    if (previous) await run('docker', ['rm', '-f', previous]).catch(() => {});
    const { stdout } = await run('docker', ['images', '-q', 'slipway-bench-raw']);
    const ids = [...new Set(stdout.split('\n').filter(Boolean))];
    if (ids.length) await run('docker', ['rmi', '-f', ...ids]).catch(() => {});
    redis.disconnect();
    await slipway.stop();
  }
}

/** Streams 1 GiB through curl to the API and samples the API's RSS every 50 ms. */
async function bigUpload(base: string, apiPid: number, token: string) {
  const file = path.join(tmpdir(), 'slipway-bench-1g.tgz');
  const handle = await open(file, 'w');
  await handle.truncate(1024 ** 3);
  await handle.write(Buffer.from([0x1f, 0x8b]), 0, 2, 0);
  await handle.close();
  const rssKb = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${apiPid}/status`, 'utf8'))?.[1] ?? 0);
  const baseline = await rssKb();
  let peak = baseline;
  const sampler = setInterval(() => void rssKb().then((kb) => (peak = Math.max(peak, kb))), 50);
  const began = performance.now();
  const status = await new Promise<string>((resolve, reject) => {
    const curl = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, '-F', 'app=big', '-F', 'version=1', '-F', `archive=@${file}`, `${base}/api/deploys`]);
    let out = '';
    curl.stdout.on('data', (c: Buffer) => (out += c));
    curl.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}`))));
  });
  const seconds = (performance.now() - began) / 1000;
  clearInterval(sampler);
  await rm(file, { force: true });
  return {
    status: Number(status),
    seconds: Number(seconds.toFixed(2)),
    mibPerSecond: Math.round(1024 / seconds),
    rssBaselineMiB: Math.round(baseline / 1024),
    rssPeakMiB: Math.round(peak / 1024),
    rssGrowthMiB: Math.round((peak - baseline) / 1024),
  };
}

await main();
process.exit(0);
