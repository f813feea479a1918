/**
 * Redis going away (issue 3): the API answers 503 at once and stores nothing meanwhile, and everything
 * recovers when Redis is back. Ordering under load and killed workers are in test/faults/.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, waitForDeploy } from '../helpers/api';
import { dockerfileApp } from '../helpers/archives';
import { docker, startRedis, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

beforeAll(async () => {
  slipway = await startSlipway({ redis: await startRedis(true), env: { SLIPWAY_CONCURRENCY: '2' } });
});
afterAll(async () => {
  await slipway?.stop();
  await slipway?.redis.stop();
});

describe('Redis going away', () => {
  it('answers 503 at once while Redis is down, and recovers when it is back', async () => {
    const container = docker.getContainer(slipway.redis.getId());
    await container.stop({ t: 0 });
    try {
      for (const route of ['/api/apps', '/api/deploys', '/api/queue']) {
        const res = await call(slipway.url, 'GET', route);
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('redis_unavailable');
      }
      const health = await call(slipway.url, 'GET', '/healthz');
      expect(health).toMatchObject({ status: 503, body: { ok: false, redis: false } });
      const res = await upload(slipway.url, await dockerfileApp('x', '1'), 'x.tgz', { app: 'x', version: '1' });
      expect(res.status).toBe(503);
      expect(await readdir(path.join(slipway.dataDir, 'uploads'))).toEqual([]);
    } finally {
      await container.start();
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await call(slipway.url, 'GET', '/api/apps')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    // The worker reconnected too: a deploy goes through.
    const after = await upload(slipway.url, await dockerfileApp('back', '1'), 'back.tgz', { app: 'back', version: '1' });
    expect((await waitForDeploy(slipway.url, after.body.deploy.id)).status).toBe('succeeded');
  });
});
