/**
 * bench/instances: an app with `instances: 2` through the gateway, in one run (wrk -t1 -c50):
 * - throughput with 1 and with 2 instances, against one container's published port (raw `docker run -p`);
 * - failed requests while a new version replaces both instances under load (goal 0);
 * - failed requests while one instance crashes and the engine restarts it, under load (goal 0).
 * On 2 cores the gateway, wrk and the containers share the machine: a second instance adds capacity only
 * where the app, not the gateway, is the limit (the `/slow`-free fixture is cheap), so the ratios say
 * what balancing costs more than what it gains.
 *
 *   npx tsx bench/instances.ts [seconds=8] [rounds=3]      (needs wrk: apt-get install wrk)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { call, get, upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway, type Slipway } from '../test/helpers/slipway';
import { median, parseWrk, saveResult, sleep, type WrkSample } from './lib';

const seconds = Number(process.argv[2] ?? 8);
const rounds = Number(process.argv[3] ?? 3);
const run = promisify(execFile);

async function wrk(url: string, host: string | undefined, secs: number): Promise<WrkSample> {
  const { stdout } = await run('wrk', ['-t1', '-c50', `-d${secs}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url]);
  return parseWrk(stdout);
}

async function deploy(slipway: Slipway, version: string) {
  const res = await upload(slipway.url, await fixtureTgz('hello', { version }), 'hello.tgz');
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  if (done.status !== 'succeeded') throw new Error(`deploy of ${version}: ${done.status}`);
  return done;
}

async function restart(slipway: Slipway) {
  const res = await call(slipway.url, 'POST', '/api/apps/hello/restart');
  await waitForDeploy(slipway.url, res.body.deploy.id);
}

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  try {
    await deploy(slipway, '1.0.0');
    const samples: Record<'direct' | 'one' | 'two', WrkSample[]> = { direct: [], one: [], two: [] };
    await wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', 5); // warm-up
    for (let i = 0; i < rounds; i++) {
      await call(slipway.url, 'PUT', '/api/apps/hello', { instances: 1 });
      await restart(slipway);
      const port = (await call(slipway.url, 'GET', '/api/apps/hello')).body.app.current.port;
      samples.direct.push(await wrk(`http://127.0.0.1:${port}/`, undefined, seconds));
      samples.one.push(await wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', seconds));
      await call(slipway.url, 'PUT', '/api/apps/hello', { instances: 2 });
      await restart(slipway);
      samples.two.push(await wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', seconds));
      console.log(`round ${i + 1}: direct ${samples.direct.at(-1)!.rps}/s, 1 instance ${samples.one.at(-1)!.rps}/s, 2 instances ${samples.two.at(-1)!.rps}/s`);
    }

    // A new version replaces both instances while wrk runs through the gateway.
    const during = wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', 25);
    await sleep(2000);
    const began = performance.now();
    await deploy(slipway, '2.0.0');
    const deployMs = Math.round(performance.now() - began);
    const acrossDeploy = await during;
    console.log(`across a deploy of 2 instances (${deployMs} ms): ${JSON.stringify(acrossDeploy)}`);

    // One instance crashes (exits 3) under load; the engine restarts it and the gateway takes it back.
    const instances = (await call(slipway.url, 'GET', '/api/apps/hello')).body.app.current.instances as Array<{ port: number }>;
    const crashing = wrk(`${slipway.gatewayUrl}/`, 'hello.localhost', 15);
    await sleep(3000);
    await get(`http://127.0.0.1:${instances[1]!.port}/crash`);
    const acrossCrash = await crashing;
    console.log(`across a crash of one of 2 instances: ${JSON.stringify(acrossCrash)}`);

    const pick = (k: keyof typeof samples) => median(samples[k].map((s) => s.rps));
    const result = {
      date: new Date().toISOString(),
      tool: 'wrk -t1 -c50',
      seconds,
      rounds,
      rps: { direct: pick('direct'), oneInstance: pick('one'), twoInstances: pick('two') },
      twoOverOne: Number((pick('two') / pick('one')).toFixed(2)),
      oneOverDirect: Number((pick('one') / pick('direct')).toFixed(2)),
      acrossDeploy: { deployMs, ...acrossDeploy },
      acrossCrash,
    };
    console.log(JSON.stringify(result, null, 2));
    await saveResult('instances', { ...result, samples });
  } finally {
    await slipway.stop();
  }
}

await main();
process.exit(0);
