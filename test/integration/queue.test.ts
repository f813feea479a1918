/**
 * Ordering and recovery (issue 3): one app never deploys twice at once and its deploys run in queue
 * order; a worker killed mid-build leaves no orphan and no deploy stuck `running`; while Redis is down the
 * API answers 503 at once and recovers when Redis is back.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import getPort from 'get-port';
import { RedisContainer } from '@testcontainers/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deploy } from '@slipway/contracts/deploy';
import { call, get, upload, waitForDeploy } from '../helpers/api';
import { tarOf, type Entry } from '../helpers/archives';
import { containersOf, docker, startSlipway, type Slipway } from '../helpers/slipway';

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

describe('per-app ordering', () => {
  it('runs one app\'s deploys one at a time, in the order they were queued', async () => {
    const ids: string[] = [];
    for (const version of ['1', '2', '3']) {
      const res = await upload(slipway.url, await slowApp(2, `serial-${version}`), 'serial.tgz', { app: 'serial', version });
      expect(res.status).toBe(202);
      ids.push(res.body.deploy.id);
    }
    const other = await upload(slipway.url, await slowApp(2, 'other'), 'other.tgz', { app: 'other', version: '1' });

    const done: Deploy[] = [];
    for (const id of ids) done.push(await waitForDeploy(slipway.url, id));
    expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (let i = 1; i < done.length; i++) {
      // Each started only after the one queued before it had finished.
      expect(Date.parse(done[i]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(done[i - 1]!.finishedAt!));
    }
    const { body } = await call(slipway.url, 'GET', '/api/apps/serial');
    expect(body.app.current.version).toBe('3');
    expect((await waitForDeploy(slipway.url, other.body.deploy.id)).status).toBe('succeeded');
    expect((await call(slipway.url, 'GET', '/api/queue')).body.counts).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
  });
});

describe('a worker killed mid-build', () => {
  it('leaves no orphan container and no deploy stuck running', async () => {
    const v1 = await upload(slipway.url, await slowApp(0), 'steady.tgz', { app: 'steady', version: '1' });
    const live = await waitForDeploy(slipway.url, v1.body.deploy.id);
    expect(live.status).toBe('succeeded');
    const containersBefore = (await docker.listContainers({ all: true })).length;

    const v2 = await upload(slipway.url, await slowApp(6, `steady-${Date.now()}`), 'steady.tgz', { app: 'steady', version: '2' });
    for (;;) {
      const { body } = await call(slipway.url, 'GET', `/api/deploys/${v2.body.deploy.id}`);
      if (body.deploy.stage === 'build') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    await slipway.killWorker('SIGKILL');
    // The running version is untouched while no worker runs.
    expect((await get(`http://127.0.0.1:${live.port}/`)).status).toBe(200);
    await slipway.startWorker();

    const done = await waitForDeploy(slipway.url, v2.body.deploy.id);
    // Retried once by the next worker (BullMQ's stalled-job check), or failed with a reason: never stuck.
    if (done.status === 'failed') expect(done.error?.code).toBeTruthy();
    else expect(done.attempts).toBe(2);

    const { body } = await call(slipway.url, 'GET', '/api/deploys?app=steady');
    expect(body.deploys.filter((d: Deploy) => d.status === 'running' || d.status === 'queued')).toEqual([]);
    const names = (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === 'steady').map((c) => c.name);
    expect(names).toEqual([done.status === 'succeeded' ? 'slipway-steady-2' : 'slipway-steady-1']);
    // Nothing left by the interrupted build: no intermediate container, no staging folder.
    expect((await docker.listContainers({ all: true })).length).toBe(containersBefore);
    const staging = (await readdir(path.join(slipway.dataDir, 'cluster', 'steady'))).filter((n) => n.startsWith('.unpack-'));
    expect(staging).toEqual([]);
  });
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
