/**
 * Faults 6 and 7 (issue 9): builds and versions that go wrong end `failed` instead of hanging, and the
 * version that runs keeps serving through the gateway (probed every 100 ms) the whole time. A version that
 * passes its health check and then dies is rolled back automatically.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, get, upload, waitForDeploy } from '../helpers/api';
import { tarOf, type Entry } from '../helpers/archives';
import { containersOf, docker, imageExists, prober, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let probe: ReturnType<typeof prober>;

const server = (code: string): Entry[] => [
  { name: 'package.json', content: '{"scripts":{"start":"node server.js"}}' },
  { name: 'server.js', content: code },
];

// The build timeout leaves room for a real template build on a busy 2-core machine (contained builds make
// their network and cgroup first); the hanging build still meets it.
beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_BUILD_TIMEOUT_S: '12', SLIPWAY_HEALTH_TIMEOUT_S: '3', SLIPWAY_WATCH_S: '12' } });
  const res = await upload(slipway.url, await tarOf(server("require('http').createServer((q, s) => s.end('hello 1.0.0')).listen(process.env.PORT)")), 'x.tgz', {
    app: 'hello',
    version: '1.0.0',
  });
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  probe = prober(slipway.gatewayUrl, 'hello.localhost');
});
afterAll(async () => {
  await probe?.stop();
  await slipway?.stop();
});

async function deployFailing(entries: Entry[], version: string) {
  const res = await upload(slipway.url, await tarOf(entries), 'x.tgz', { app: 'hello', version });
  expect(res.status).toBe(202);
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  expect(done.status).toBe('failed');
  // Never switched to: 1.0.0 is still current, and nothing of the failed version is left.
  expect((await call(slipway.url, 'GET', '/api/apps/hello')).body.app.current.version).toBe('1.0.0');
  expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-hello-1.0.0']);
  expect(await imageExists(`${slipway.prefix}hello:${version}`)).toBe(false);
  return done;
}

describe('builds that go wrong', () => {
  it('a build that hangs (RUN sleep infinity) fails at SLIPWAY_BUILD_TIMEOUT_S, leaving no build container', async () => {
    // Other tests' containers come and go on the same engine: count the build's own step container.
    const marker = `sleep-${Date.now()}`;
    const stepContainers = async () => (await docker.listContainers({ all: true })).filter((c) => c.Command.includes(marker)).length;
    const done = await deployFailing([{ name: 'Dockerfile', content: `FROM node:20-slim\nRUN echo ${marker} && sleep infinity\n` }], 'hang');
    expect(done.error).toMatchObject({ code: 'build_timeout', message: expect.stringContaining('SLIPWAY_BUILD_TIMEOUT_S') });
    // The engine gives up the cancelled build a moment after the client goes.
    let left = -1;
    for (let i = 0; i < 50 && left !== 0; i++) {
      left = await stepContainers();
      if (left) await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toBe(0);
  });

  it('a Dockerfile error fails from the builder\'s in-band error line', async () => {
    const done = await deployFailing([{ name: 'Dockerfile', content: 'FROM node:20-slim\nRUN echo compiling && exit 3\n' }], 'bad-step');
    expect(done.error?.code).toBe('build_failed');
    expect(done.error?.message).toMatch(/exit(ed)? ?(code)?:? ?3|returned a non-zero code: 3/);
  });
});

describe('versions that go wrong', () => {
  it('never switches to an app that never answers within SLIPWAY_HEALTH_TIMEOUT_S, and keeps its logs', async () => {
    const done = await deployFailing(server("console.log('warming up forever'); setInterval(() => {}, 1000);"), 'idle');
    expect(done.error).toMatchObject({ code: 'unhealthy', message: expect.stringMatching(/within 3 s/) });
    expect(done.error?.logs?.join('\n')).toContain('warming up forever');
  });

  it('never switches to an app that listens on another port than the one it was given', async () => {
    const done = await deployFailing(server("require('http').createServer((q, s) => s.end('x')).listen(4999)"), 'wrong-port');
    expect(done.error?.code).toBe('unhealthy');
  });

  it('never switches to an app that answers 500', async () => {
    const done = await deployFailing(server("require('http').createServer((q, s) => { s.statusCode = 500; s.end('down'); }).listen(process.env.PORT)"), 'five-hundred');
    expect(done.error).toMatchObject({ code: 'unhealthy', message: expect.stringContaining('answered 500') });
  });

  it('the running version answered every probe while all of the above failed', async () => {
    const { sent, failures, answers } = await probe.stop();
    expect(sent).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    expect([...answers.keys()]).toEqual(['hello 1.0.0']);
  });

  it('rolls back automatically an app that passes its health check and exits once live', async () => {
    const res = await upload(
      slipway.url,
      await tarOf(server("require('http').createServer((q, s) => { s.end('hello 2.0.0'); if (q.url === '/crash') { console.error('giving up'); setTimeout(() => process.exit(1), 50); } }).listen(process.env.PORT);")),
      'x.tgz',
      { app: 'hello', version: '2.0.0' },
    );
    const deployed = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(deployed.status).toBe('succeeded');
    // Told to crash once live (a timer could fire before the switch on a busy machine).
    expect((await get(`http://127.0.0.1:${deployed.port}/crash`)).text).toBe('hello 2.0.0');
    let record = deployed;
    for (let i = 0; i < 150 && !record.rolledBack; i++) {
      await new Promise((r) => setTimeout(r, 200));
      record = (await call(slipway.url, 'GET', `/api/deploys/${deployed.id}`)).body.deploy;
    }
    expect(record).toMatchObject({ status: 'failed', error: { code: 'unhealthy' }, rolledBack: { to: '1.0.0' } });
    expect((await waitForDeploy(slipway.url, record.rolledBack!.by)).status).toBe('succeeded');
    const after = prober(slipway.gatewayUrl, 'hello.localhost');
    await new Promise((r) => setTimeout(r, 1000));
    const { failures, answers } = await after.stop();
    expect(failures).toEqual([]);
    expect([...answers.keys()]).toEqual(['hello 1.0.0']);
    expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-hello-1.0.0']);
  });
});
