/**
 * Redis going away (issue 3): the API answers 503 at once and stores nothing meanwhile, and everything
 * recovers when Redis is back. Ordering under load and killed workers are in test/faults/.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import getPort from 'get-port';
import { RedisContainer } from '@testcontainers/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, waitForDeploy } from '../helpers/api';
import { tarOf, type Entry } from '../helpers/archives';
import { docker, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

/** An app whose build takes `buildS` seconds (never from the layer cache: the step names the version). */
async function slowApp(buildS: number, version = 'x'): Promise<Buffer> {
  const entries: Entry[] = [
    {
      name: 'Dockerfile',
      content: [
        'FROM node:20-slim',
        `RUN echo building ${version} && sleep ${buildS}`,
        'COPY server.js /srv/server.js',
        'CMD ["node", "/srv/server.js"]',
      ].join('\n'),
    },
    { name: 'server.js', content: "require('http').createServer((q, s) => s.end(process.env.HOSTNAME + '\\n')).listen(process.env.PORT || 3000)" },
  ];
  return tarOf(entries);
}

beforeAll(async () => {
  const port = await getPort();
  // A fixed host port, so that Redis stopped and started again comes back where the clients expect it.
  const redis = await new RedisContainer('redis:7-alpine')
    .withCommand(['redis-server', '--protected-mode', 'no'])
    .withExposedPorts({ container: 6379, host: port })
    .start();
  slipway = await startSlipway({ redis, env: { SLIPWAY_CONCURRENCY: '2' } });
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
      const res = await upload(slipway.url, await slowApp(0), 'x.tgz', { app: 'x', version: '1' });
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
    const after = await upload(slipway.url, await slowApp(0), 'back.tgz', { app: 'back', version: '1' });
    expect((await waitForDeploy(slipway.url, after.body.deploy.id)).status).toBe('succeeded');
  });
});
