/**
 * Limits that end a deploy instead of hanging it: the build timeout, the health timeout, an app that
 * listens on the wrong port. The version that runs is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, get, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz, tarOf } from '../helpers/archives';
import { containersOf, docker, imageExists, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let livePort = 0;

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_BUILD_TIMEOUT_S: '4', SLIPWAY_HEALTH_TIMEOUT_S: '3' } });
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  livePort = (await waitForDeploy(slipway.url, res.body.deploy.id)).port!;
});
afterAll(async () => {
  await slipway?.stop();
});

async function deployFailing(entries: Parameters<typeof tarOf>[0], version: string) {
  const res = await upload(slipway.url, await tarOf(entries), 'x.tgz', { app: 'hello', version });
  expect(res.status).toBe(202);
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  expect(done.status).toBe('failed');
  // The running version kept serving and is still current; nothing of the failed one is left.
  expect((await get(`http://127.0.0.1:${livePort}/`)).text.trim()).toBe('hello 1.0.0');
  expect((await call(slipway.url, 'GET', '/api/apps/hello')).body.app.current.version).toBe('1.0.0');
  expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-hello-1.0.0']);
  expect(await imageExists(`${slipway.prefix}hello:${version}`)).toBe(false);
  return done;
}

describe('timeouts', () => {
  it('fails a build that runs past SLIPWAY_BUILD_TIMEOUT_S, leaving no build container', async () => {
    const before = (await docker.listContainers({ all: true })).length;
    const done = await deployFailing([{ name: 'Dockerfile', content: 'FROM node:20-slim\nRUN echo start && sleep 600\n' }], 'hang');
    expect(done.error).toMatchObject({ code: 'build_timeout', message: expect.stringContaining('SLIPWAY_BUILD_TIMEOUT_S') });
    // The engine gives up the cancelled build a moment after the client goes.
    let after = -1;
    for (let i = 0; i < 50 && after !== before; i++) {
      after = (await docker.listContainers({ all: true })).length;
      if (after !== before) await new Promise((r) => setTimeout(r, 200));
    }
    expect(after).toBe(before);
  });

  it('fails an app that never answers within SLIPWAY_HEALTH_TIMEOUT_S, with its logs', async () => {
    const done = await deployFailing(
      [
        { name: 'package.json', content: '{"scripts":{"start":"node idle.js"}}' },
        { name: 'idle.js', content: "console.log('warming up forever'); setInterval(() => {}, 1000);" },
      ],
      'idle',
    );
    expect(done.error).toMatchObject({ code: 'unhealthy', message: expect.stringMatching(/within 3 s/) });
    expect(done.error?.logs?.join('\n')).toContain('warming up forever');
  });

  it('fails an app that listens on another port than the one it was given', async () => {
    const done = await deployFailing(
      [
        { name: 'package.json', content: '{"scripts":{"start":"node wrong.js"}}' },
        { name: 'wrong.js', content: "require('http').createServer((q, s) => s.end('x')).listen(4999)" },
      ],
      'wrong-port',
    );
    expect(done.error?.code).toBe('unhealthy');
  });

  it('fails an app that answers 500', async () => {
    const done = await deployFailing(
      [
        { name: 'package.json', content: '{"scripts":{"start":"node five.js"}}' },
        { name: 'five.js', content: "require('http').createServer((q, s) => { s.statusCode = 503; s.end('down'); }).listen(process.env.PORT)" },
      ],
      'five-hundred',
    );
    expect(done.error).toMatchObject({ code: 'unhealthy', message: expect.stringContaining('answered 503') });
  });
});
