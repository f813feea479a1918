/**
 * Docker's labels are the source of truth (SPEC §3): a worker starting up makes Slipway's records agree
 * with what really runs, and removes candidates that belong to no deploy in progress.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { containersOf, docker, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

beforeAll(async () => {
  slipway = await startSlipway();
});
afterAll(async () => {
  await slipway?.stop();
});

describe('reconciliation at worker start', () => {
  it('rebuilds lost records from labels and removes orphan candidates', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
    const live = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(live.status).toBe('succeeded');

    // An orphan: a labelled container of a deploy nobody knows (as a crash between start and record could leave).
    const orphan = await docker.createContainer({
      name: 'slipway-hello-orphan',
      Image: `${slipway.prefix}hello:1.0.0`,
      Labels: { 'io.slipway.managed': 'true', 'io.slipway.instance': slipway.instance, 'io.slipway.app': 'hello', 'io.slipway.version': 'orphan', 'io.slipway.deploy': 'd0000000000000000' },
    });
    // A container of another Slipway sharing the engine (its own instance label).
    const stranger = await docker.createContainer({
      name: `slipway-hello-stranger-${Date.now()}`,
      Image: `${slipway.prefix}hello:1.0.0`,
      Labels: { 'io.slipway.managed': 'true', 'io.slipway.instance': 'someoneelse0', 'io.slipway.app': 'hello', 'io.slipway.version': '1.0.0', 'io.slipway.deploy': 'd1111111111111111' },
      Env: ['PORT=3000'],
    });
    await stranger.start();
    // Redis loses everything.
    const redis = new Redis(slipway.redisUrl);
    await redis.flushall();
    await redis.quit();

    await slipway.killWorker('SIGTERM');
    await slipway.startWorker();

    const { body } = await call(slipway.url, 'GET', '/api/apps');
    expect(body.apps).toEqual([
      expect.objectContaining({ name: 'hello', current: expect.objectContaining({ version: '1.0.0', port: live.port }) }),
    ]);
    const ours = (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.instance'] === slipway.instance);
    expect(ours.map((c) => c.name)).toEqual(['slipway-hello-1.0.0']);
    await expect(docker.getContainer(orphan.id).inspect()).rejects.toThrow();
    // Another installation's container on the same engine is never touched.
    expect((await docker.getContainer(stranger.id).inspect()).State.Running).toBe(true);
    await docker.getContainer(stranger.id).remove({ force: true });
  });
  it('follows a container that came back with another address on its network', async () => {
    const redis = new Redis(slipway.redisUrl);
    try {
      const containerId = (await redis.hget('slipway:app:hello', 'containerId'))!;
      const before = (await redis.hget('slipway:app:hello', 'address'))!;
      const network = docker.getNetwork(`slipway-hello-${slipway.instance}`);
      // What an engine restart can do: the same container, on the same network, at another address.
      const [a, b, c] = before.split(':')[0]!.split('.');
      const moved = `${a}.${b}.${c}.${before.startsWith(`${a}.${b}.${c}.200:`) ? 201 : 200}`;
      await network.disconnect({ Container: containerId, Force: true });
      await network.connect({ Container: containerId, EndpointConfig: { IPAMConfig: { IPv4Address: moved } } });

      await slipway.killWorker('SIGTERM');
      await slipway.startWorker();
      expect(await redis.hget('slipway:app:hello', 'address')).toBe(`${moved}:3000`);
      expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).text).toBe('hello 1.0.0\n');
    } finally {
      redis.disconnect();
    }
  });

  it("leaves an app with a deploy in its line to that deploy, so the gateways never lose the container they route to", async () => {
    // A worker killed inside the switch, between writing the app's record (now naming the candidate) and
    // telling the gateways: they still route to the old container, which is no longer the recorded one.
    // Removing it here answered 502 until the retried deploy switched again.
    const redis = new Redis(slipway.redisUrl);
    const record = await redis.hgetall('slipway:app:hello');
    const candidate = await docker.createContainer({
      name: `slipway-hello-candidate-${slipway.instance}`,
      Image: `${slipway.prefix}hello:1.0.0`,
      Labels: { 'io.slipway.managed': 'true', 'io.slipway.instance': slipway.instance, 'io.slipway.app': 'hello', 'io.slipway.version': '2.0.0', 'io.slipway.deploy': 'd2222222222222222' },
      Env: ['PORT=3000'],
      HostConfig: { NetworkMode: `slipway-hello-${slipway.instance}` },
    });
    try {
      await redis.rpush('slipway:app:hello:line', 'd2222222222222222');
      await redis.hset('slipway:app:hello', 'containerId', candidate.id);

      await slipway.killWorker('SIGTERM');
      await slipway.startWorker();
      expect((await docker.getContainer(record.containerId!).inspect()).State.Running).toBe(true);
      expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).text).toBe('hello 1.0.0\n');
    } finally {
      await redis.del('slipway:app:hello:line');
      await redis.hset('slipway:app:hello', 'containerId', record.containerId!);
      await candidate.remove({ force: true });
      redis.disconnect();
    }
  });
});
