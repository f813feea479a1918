/**
 * bench/site: what a static site costs (issue 15). A small single-page site (an index.html, a 60 KiB
 * fingerprinted script and a stylesheet) deployed through Slipway: its image size above the site image (nginx), its
 * container's idle RSS (every process in it, read from /proc), and requests/s of `/` through the gateway
 * with wrk against the Node `hello` fixture through the same gateway, alternating, in the same run.
 *
 *   npx tsx bench/site.ts [seconds=10] [rounds=2]      (needs wrk: apt-get install wrk)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz, tarOf } from '../test/helpers/archives';
import { docker, startSlipway } from '../test/helpers/slipway';
import { median, saveResult, sleep } from './lib';

const run = promisify(execFile);
const secs = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 2);

async function wrkRps(url: string, host: string): Promise<number> {
  const { stdout } = await run('wrk', ['-t1', '-c50', `-d${secs}s`, '-H', `Host: ${host}`, url]);
  if (/Non-2xx or 3xx responses/.test(stdout)) throw new Error(`non-2xx answers from ${host}:\n${stdout}`);
  return Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]));
}

/** RSS of every process in a container (tini, and the server with its workers), as ps reads them on this host. */
async function containerRssMiB(id: string): Promise<number> {
  const top = await docker.getContainer(id).top({ ps_args: '-o pid' });
  const pids = top.Processes.map((row: string[]) => row[0]!).join(',');
  const { stdout } = await run('ps', ['-o', 'rss=', '-p', pids]);
  const kib = stdout.split('\n').filter(Boolean).reduce((sum, v) => sum + Number(v), 0);
  return Math.round((kib / 1024) * 10) / 10;
}

const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
try {
  const script = `/* ${'x'.repeat(60 * 1024)} */\nconsole.log('app');\n`;
  const site = await upload(slipway.url, await tarOf([
    { name: 'index.html', content: '<!doctype html><html><head><link rel="stylesheet" href="/assets/app-5e6f7a8b.css"><script src="/assets/app-1a2b3c4d.js"></script></head><body><div id="app"></div></body></html>\n' },
    { name: 'assets/app-1a2b3c4d.js', content: script },
    { name: 'assets/app-5e6f7a8b.css', content: 'body{margin:0}\n' },
  ]), 'site_1.0.0.tgz');
  const hello = await upload(slipway.url, await fixtureTgz('hello', { name: 'hello', version: '1.0.0' }), 'hello.tgz');
  const siteDone = await waitForDeploy(slipway.url, site.body.deploy.id);
  const helloDone = await waitForDeploy(slipway.url, hello.body.deploy.id);
  if (siteDone.status !== 'succeeded' || helloDone.status !== 'succeeded') throw new Error('deploys failed');

  const size = async (ref: string) => (await docker.getImage(ref).inspect()).Size;
  const siteImage = process.env.SLIPWAY_SITE_IMAGE ?? 'nginx:stable-bookworm';
  const aboveBaseKiB = Math.round((await size(`${slipway.prefix}site:1.0.0`) - (await size(siteImage))) / 1024);
  const helloAboveBaseKiB = Math.round((await size(`${slipway.prefix}hello:1.0.0`) - (await size('node:20-slim'))) / 1024);

  // Warm both (the JIT of the servers and the gateway), then let them idle before reading RSS.
  await wrkRps(slipway.gatewayUrl, 'site.localhost');
  await wrkRps(slipway.gatewayUrl, 'hello.localhost');
  await sleep(10_000);
  const ids = async (app: string) => (await docker.listContainers({ filters: { label: [`io.slipway.app=${app}`, `io.slipway.instance=${slipway.instance}`] } }))[0]!.Id;
  const siteRss = await containerRssMiB(await ids('site'));
  const helloRss = await containerRssMiB(await ids('hello'));

  const siteRps: number[] = [];
  const helloRps: number[] = [];
  for (let i = 0; i < rounds; i++) {
    siteRps.push(await wrkRps(slipway.gatewayUrl, 'site.localhost'));
    helloRps.push(await wrkRps(slipway.gatewayUrl, 'hello.localhost'));
    console.log(`round ${i + 1}: site ${siteRps.at(-1)} req/s, hello ${helloRps.at(-1)} req/s through the gateway`);
  }
  const result = {
    date: new Date().toISOString(),
    imageAboveBaseKiB: aboveBaseKiB,
    imageMiB: { site: Math.round((await size(`${slipway.prefix}site:1.0.0`)) / 1048576), hello: Math.round((await size(`${slipway.prefix}hello:1.0.0`)) / 1048576) },
    helloImageAboveBaseKiB: helloAboveBaseKiB,
    idleRssMiB: { site: siteRss, hello: helloRss },
    gatewayRps: { site: median(siteRps), hello: median(helloRps), ratio: Number((median(siteRps) / median(helloRps)).toFixed(2)) },
  };
  console.log(JSON.stringify(result, null, 2));
  await saveResult('site', { ...result, siteRps, helloRps });
} finally {
  await slipway.stop();
}
process.exit(0);
