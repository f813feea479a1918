/**
 * Faults 2 and 3 (issue 9): Redis stopped in the middle of a deploy and started again, and Redis emptied
 * (FLUSHALL) in the middle of one. Stopped: the API answers 503 at once, the worker carries on when Redis is
 * back, and there is never a second candidate container. Emptied: the deploy in flight ends `failed`
 * (`interrupted`), and a worker start rebuilds the apps and their running versions from Docker's labels.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, waitForDeploy, waitForStage } from '../helpers/api';
import { steadyApp } from '../helpers/archives';
import { containersOf, docker, prober, startRedis, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

async function appContainers(app: string) {
  return (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === app);
}

beforeAll(async () => {
  const redis = await startRedis(true);
  slipway = await startSlipway({ redis, env: { SLIPWAY_WATCH_S: '0' } });
  const res = await upload(slipway.url, await steadyApp('1.0.0'), 'steady.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
});
afterAll(async () => {
  await slipway?.stop();
  await slipway?.redis.stop();
});

describe('Redis stopped mid-deploy', () => {
  it('answers 503 at once meanwhile; the deploy carries on when Redis is back, with one candidate', async () => {
    const probe = prober(slipway.gatewayUrl, 'steady.localhost');
    const res = await upload(slipway.url, await steadyApp('2.0.0', { buildSleepS: 6 }), 'steady.tgz');
    const id = res.body.deploy.id;
    expect(await waitForStage(slipway.url, id, 'build')).toBe('build');

    // A clean stop (SIGTERM) so Redis writes its snapshot, as a restarted Redis service would.
    const container = docker.getContainer(slipway.redis.getId());
    await container.stop({ t: 10 });
    try {
      for (const route of ['/api/apps', `/api/deploys/${id}`, '/api/queue']) {
        // call() gives up after 30 s; a hanging request would fail here rather than answer late.
        const answer = await call(slipway.url, 'GET', route);
        expect(answer.status).toBe(503);
        expect(answer.body.error.code).toBe('redis_unavailable');
      }
      // Outlast the build, so the worker reaches its next write with Redis still away.
      await new Promise((r) => setTimeout(r, 8000));
    } finally {
      await container.start();
    }

    const done = await waitForDeploy(slipway.url, id);
    const { failures, sent } = await probe.stop();
    expect(done.status).toBe('succeeded');
    expect(done.attempts ?? 1).toBe(1);
    // The version that was running answered all along: Redis is not on the request path.
    expect(sent).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    const ours = await appContainers('steady');
    expect(ours.map((c) => [c.labels['io.slipway.version'], c.state])).toEqual([['2.0.0', 'running']]);
    expect((await viaGateway(slipway.gatewayUrl, 'steady.localhost')).text).toBe('steady 2.0.0\n');
  });
});

describe('Redis emptied mid-deploy', () => {
  it('marks the deploy in flight failed, and rebuilds apps and versions from Docker at worker start', async () => {
    const res = await upload(slipway.url, await steadyApp('3.0.0', { buildSleepS: 5 }), 'steady.tgz');
    const id = res.body.deploy.id;
    expect(await waitForStage(slipway.url, id, 'build')).toBe('build');

    const redis = new Redis(slipway.redisUrl);
    try {
      await redis.flushall();
    } finally {
      redis.disconnect();
    }
    // Gone for now; the worker writes the record again when it notices, as failed with the reason.
    let answer = await call(slipway.url, 'GET', `/api/deploys/${id}`);
    for (let i = 0; i < 240 && answer.status === 404; i++) {
      await new Promise((r) => setTimeout(r, 250));
      answer = await call(slipway.url, 'GET', `/api/deploys/${id}`);
    }
    expect(answer.status).toBe(200);
    const done = await waitForDeploy(slipway.url, id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('interrupted');
    // The candidate of the lost deploy was not left behind, and 2.0.0 kept running.
    expect((await appContainers('steady')).map((c) => c.labels['io.slipway.version'])).toEqual(['2.0.0']);

    await slipway.killWorker('SIGTERM');
    await slipway.startWorker();
    const { body } = await call(slipway.url, 'GET', '/api/apps/steady');
    expect(body.app.current).toMatchObject({ version: '2.0.0' });
    expect(body.app.versions.map((v: { version: string }) => v.version)).toContain('2.0.0');
    expect((await viaGateway(slipway.gatewayUrl, 'steady.localhost')).text).toBe('steady 2.0.0\n');

    // And Slipway works on from there: the next deploy replaces the adopted version.
    const next = await upload(slipway.url, await steadyApp('4.0.0'), 'steady.tgz');
    expect((await waitForDeploy(slipway.url, next.body.deploy.id)).status).toBe('succeeded');
    expect((await appContainers('steady')).map((c) => c.labels['io.slipway.version'])).toEqual(['4.0.0']);
  });
});
