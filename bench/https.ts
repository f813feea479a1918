/**
 * bench/https: the gateway over HTTPS against plain HTTP, same app, same run, alternating rounds (wrk -t1 -c50):
 * - keep-alive: requests on open connections (TLS costs its record layer only);
 * - a new connection per request (`Connection: close`): every request pays a TLS handshake;
 * - the app's published port hit directly (the engine's docker-proxy, what raw `docker run -p` gives) as the floor;
 * and the time from a new custom domain to its certificate being served: from the internal CA, and from
 * pebble (a real ACME server validating HTTP-01 against the gateway).
 *
 * wrk sends SNI from the URL's host, so it runs in a mount namespace of its own whose /etc/hosts maps the
 * app's name to 127.0.0.1 (`unshare -m`, root): the machine's /etc/hosts is not touched.
 *
 *   npx tsx bench/https.ts [seconds=8] [rounds=3]      (needs wrk and pebble: apt-get install wrk pebble)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import { call, upload, viaHttps, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startPebble } from '../test/helpers/pebble';
import { startSlipway, type Slipway } from '../test/helpers/slipway';
import { median, parseWrk, saveResult, sleep, type WrkSample } from './lib';

const seconds = Number(process.argv[2] ?? 8);
const rounds = Number(process.argv[3] ?? 3);
const run = promisify(execFile);
const HOST = 'shop.example.test';

async function wrk(hosts: string, url: string, close: boolean): Promise<WrkSample> {
  const args = ['-t1', '-c50', `-d${seconds}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
  const script = `mount --bind "$0" /etc/hosts && exec wrk "$@"`;
  const { stdout } = await run('unshare', ['-m', 'sh', '-c', script, hosts, ...args], { maxBuffer: 1 << 20 });
  return parseWrk(stdout);
}

/** From a PUT of a new domain to the certificate the gateway serves for it (ms), `n` times. */
async function timesToCertificate(slipway: Slipway, n: number, ca: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const domain = `new${i}-${Date.now()}.example.test`;
    const began = performance.now();
    const res = await call(slipway.url, 'PUT', '/api/apps/hello', { domains: [HOST, domain] });
    if (res.status !== 200) throw new Error(`PUT domains: ${res.status} ${JSON.stringify(res.body)}`);
    for (;;) {
      const served = await viaHttps(slipway.httpsPort, domain, ca).catch(() => null);
      if (served?.status === 200) break;
      if (performance.now() - began > 60_000) {
        const status = await call(slipway.url, 'GET', '/api/apps/hello/certificates');
        throw new Error(`no certificate for ${domain} after 60 s: ${JSON.stringify(status.body)}`);
      }
      await sleep(20);
    }
    times.push(Math.round(performance.now() - began));
  }
  return times;
}

async function deployHello(slipway: Slipway): Promise<number> {
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  const deploy = await waitForDeploy(slipway.url, res.body.deploy.id);
  if (deploy.status !== 'succeeded' || !deploy.port) throw new Error(`deploy ${deploy.status}`);
  return deploy.port;
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-bench-https-'));
  const hosts = path.join(dir, 'hosts');
  await writeFile(hosts, `127.0.0.1 localhost ${HOST}\n`);

  // 1. Throughput and handshakes, internal CA.
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_TLS: 'internal' } });
  const samples: Record<string, WrkSample[]> = { direct: [], http: [], https: [], httpClose: [], httpsClose: [] };
  let internalTimes: number[] = [];
  try {
    const port = await deployHello(slipway);
    await call(slipway.url, 'PUT', '/api/apps/hello', { domains: [HOST] });
    const ca = await (await fetch(`${slipway.url}/api/tls/ca.pem`, { headers: slipway.auth })).text();
    while ((await viaHttps(slipway.httpsPort, HOST, ca).catch(() => null))?.status !== 200) await sleep(50);
    const gatewayPort = new URL(slipway.gatewayUrl).port;
    const urls = {
      direct: [`http://127.0.0.1:${port}/`, false],
      http: [`http://${HOST}:${gatewayPort}/`, false],
      https: [`https://${HOST}:${slipway.httpsPort}/`, false],
      httpClose: [`http://${HOST}:${gatewayPort}/`, true],
      httpsClose: [`https://${HOST}:${slipway.httpsPort}/`, true],
    } as const;
    // Warm-up, not counted (V8 compiles the hot paths; the upstream pool fills).
    await wrk(hosts, urls.http[0], false);
    await wrk(hosts, urls.https[0], false);
    for (let i = 0; i < rounds; i++) {
      for (const [name, [url, close]] of Object.entries(urls)) samples[name]!.push(await wrk(hosts, url, close));
      console.log(`round ${i + 1}: ${Object.entries(samples).map(([k, v]) => `${k} ${v.at(-1)!.rps}/s`).join(', ')}`);
    }
    internalTimes = await timesToCertificate(slipway, 5, ca);
    console.log(`internal CA, new domain → certificate served: ${internalTimes.join(', ')} ms`);
  } finally {
    await slipway.stop();
  }

  // 2. A new domain's certificate from pebble (HTTP-01 validated against the gateway).
  const gatewayPort = await getPort();
  const pebble = await startPebble(gatewayPort);
  let acmeTimes: number[] = [];
  const acme = await startSlipway({
    env: { SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_GATEWAY_PORT: String(gatewayPort), SLIPWAY_TLS: 'acme', SLIPWAY_ACME_URL: pebble.url, SLIPWAY_ACME_CA_FILE: pebble.caFile },
  });
  try {
    await deployHello(acme);
    acmeTimes = await timesToCertificate(acme, 5, pebble.root);
    console.log(`pebble (ACME), new domain → certificate served: ${acmeTimes.join(', ')} ms`);
  } finally {
    await acme.stop();
    await pebble.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const pick = (name: string, k: keyof WrkSample) => median(samples[name]!.map((s) => s[k]));
  const summary = (name: string) => ({ rps: pick(name, 'rps'), p50Ms: pick(name, 'p50Ms'), p99Ms: pick(name, 'p99Ms') });
  const ratio = (a: string, b: string) => Number((pick(a, 'rps') / pick(b, 'rps')).toFixed(2));
  const result = {
    date: new Date().toISOString(),
    tool: 'wrk -t1 -c50',
    seconds,
    rounds,
    keepAlive: { direct: summary('direct'), http: summary('http'), https: summary('https'), httpsOverHttp: ratio('https', 'http'), httpsOverDirect: ratio('https', 'direct') },
    newConnectionEachRequest: { http: summary('httpClose'), https: summary('httpsClose'), httpsOverHttp: ratio('httpsClose', 'httpClose') },
    newDomainToCertificateMs: { internal: { median: median(internalTimes), all: internalTimes }, acmePebble: { median: median(acmeTimes), all: acmeTimes } },
    failed: Object.values(samples).flat().reduce((n, s) => n + s.failed, 0),
  };
  console.log(JSON.stringify(result, null, 2));
  await saveResult('https', { ...result, samples });
}

await main();
process.exit(0);
