/**
 * Several instances (issue 16, SPEC §3 "Instances"): `instances: N` runs N containers of the current version,
 * each on its own port; the gateway balances them, takes one that cannot be reached out of rotation and
 * back once it answers; a deploy, rollback, stop and start move all of them, dropping no request; stats and
 * logs say which instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, get, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { docker, loadThroughGateway, printProblemsOnFailure, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
printProblemsOnFailure(() => slipway);

const deploy = async (version: string) => {
  const res = await upload(slipway.url, await fixtureTgz('hello', { version }), 'hello.tgz');
  return waitForDeploy(slipway.url, res.body.deploy.id);
};
const containersOf = async () =>
  (await docker.listContainers({ filters: { label: ['io.slipway.app=hello', `io.slipway.instance=${slipway.instance}`] } }))
    .map((c) => ({ id: c.Id.slice(0, 12), version: c.Labels['io.slipway.version'], replica: c.Labels['io.slipway.replica'], name: c.Names[0]!.slice(1) }))
    .sort((a, b) => a.name.localeCompare(b.name));
/** Who answers through the gateway: the containers' host names, from `n` requests. */
const whoAnswers = async (n: number) => {
  const names = new Set<string>();
  for (let i = 0; i < n; i++) names.add((await viaGateway(slipway.gatewayUrl, 'hello.localhost', '/whoami')).text.trim());
  return [...names].sort();
};

beforeAll(async () => {
  // No sampling round within the test: the figures it sees are the ones taken at each switch.
  slipway = await startSlipway({ env: { SLIPWAY_SAMPLE_S: '3600' } });
});
afterAll(async () => {
  await slipway?.stop();
});

describe('instances', () => {
  it('takes 1 to 10', async () => {
    for (const instances of [0, 11, 1.5, '2']) expect((await call(slipway.url, 'PUT', '/api/apps/hello', { instances })).status, String(instances)).toBe(400);
    const res = await call(slipway.url, 'PUT', '/api/apps/hello', { instances: 2 });
    expect(res.status).toBe(201);
    expect(res.body.app.settings.instances).toBe(2);
  });

  it('runs every instance on its own port, and the gateway sends requests to each', async () => {
    expect((await deploy('1.0.0')).status).toBe('succeeded');
    const containers = await containersOf();
    expect(containers.map((c) => `${c.name} ${c.version} ${c.replica}`)).toEqual([`slipway-hello-1.0.0 1.0.0 0`, `slipway-hello-1.0.0-2 1.0.0 1`]);
    const { current } = (await call(slipway.url, 'GET', '/api/apps/hello')).body.app;
    expect(current.instances.map((i: { index: number }) => i.index)).toEqual([0, 1]);
    expect(new Set(current.instances.map((i: { port: number }) => i.port)).size).toBe(2);
    for (const instance of current.instances) expect((await get(`http://127.0.0.1:${instance.port}/`)).text.trim()).toBe('hello 1.0.0');
    expect(await whoAnswers(20)).toEqual(containers.map((c) => c.id).sort());
    // Sampled at the switch (issue 18), not at the next round an hour away.
    await expect.poll(async () => (await call(slipway.url, 'GET', '/api/apps/hello/stats')).body.instances.filter((i: { stats: unknown }) => i.stats).length, { timeout: 10_000 }).toBe(2);
  });

  it('deploys a new version under load without a failed request, replacing every instance', async () => {
    const load = loadThroughGateway(slipway.gatewayUrl, 'hello.localhost', 8);
    await new Promise((r) => setTimeout(r, 500));
    expect((await deploy('2.0.0')).status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 500));
    const { requests, failures, seen } = await load.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(100);
    expect([...seen.keys()].sort()).toEqual(['hello 1.0.0', 'hello 2.0.0']);
    expect((await containersOf()).map((c) => `${c.name} ${c.replica}`)).toEqual(['slipway-hello-2.0.0 0', 'slipway-hello-2.0.0-2 1']);
  });

  it('takes an instance that crashed out of rotation without a failed request, and back once the engine restarted it', async () => {
    const [, second] = await containersOf();
    const { current } = (await call(slipway.url, 'GET', '/api/apps/hello')).body.app;
    const load = loadThroughGateway(slipway.gatewayUrl, 'hello.localhost', 8);
    await new Promise((r) => setTimeout(r, 300));
    // The second instance exits as a crash would (the first is the one the post-switch watch follows).
    expect((await get(`http://127.0.0.1:${current.instances[1].port}/crash`)).text.trim()).toBe('crashing');
    await new Promise((r) => setTimeout(r, 1500));
    const { requests, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(50);
    // The engine restarts it (unless-stopped); the gateway finds it answering again.
    await expect.poll(async () => (await docker.getContainer(second!.id).inspect()).RestartCount, { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => whoAnswers(20), { timeout: 20_000 }).toEqual((await containersOf()).map((c) => c.id).sort());
  });

  it('says which instance in the stats and the log history', async () => {
    await expect
      .poll(async () => (await call(slipway.url, 'GET', '/api/apps/hello/stats')).body.instances.map((i: { index: number; stats: unknown }) => `${i.index} ${i.stats ? 'sampled' : 'none'}`), { timeout: 20_000 })
      .toEqual(['0 sampled', '1 sampled']);
    const stats = (await call(slipway.url, 'GET', '/api/apps/hello/stats')).body;
    expect(stats.stats.memoryBytes).toBeGreaterThan(stats.instances[0].stats.memoryBytes);
    await expect
      .poll(async () => (await call(slipway.url, 'GET', '/api/apps/hello/logs?instance=1&q=listening&version=2.0.0')).body.lines.map((l: { instance?: number; text: string }) => `${l.instance} ${l.text}`).at(0), { timeout: 20_000 })
      .toBe('1 hello 2.0.0 listening on 3000');
    const first = (await call(slipway.url, 'GET', '/api/apps/hello/logs?instance=0&q=listening&version=2.0.0')).body.lines;
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((l: { instance?: number }) => l.instance === undefined)).toBe(true);
  });

  it('stops and starts every instance, and rolls all of them back', async () => {
    expect((await call(slipway.url, 'POST', '/api/apps/hello/stop')).status).toBe(200);
    expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).status).toBe(503);
    expect((await docker.listContainers({ filters: { label: ['io.slipway.app=hello', `io.slipway.instance=${slipway.instance}`] } })).length).toBe(0);
    expect((await call(slipway.url, 'POST', '/api/apps/hello/start')).status).toBe(200);
    expect(await whoAnswers(20)).toEqual((await containersOf()).map((c) => c.id).sort());

    const res = await call(slipway.url, 'POST', '/api/apps/hello/rollback', {});
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect((await containersOf()).map((c) => `${c.name} ${c.version}`)).toEqual(['slipway-hello-1.0.0 1.0.0', 'slipway-hello-1.0.0-2 1.0.0']);
    expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).text.trim()).toBe('hello 1.0.0');
  });

  it('goes back to one container when asked', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { instances: 1 })).status).toBe(200);
    const res = await call(slipway.url, 'POST', '/api/apps/hello/restart');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect((await containersOf()).map((c) => c.name)).toEqual(['slipway-hello-1.0.0']);
    expect((await call(slipway.url, 'GET', '/api/apps/hello')).body.app.current.instances).toHaveLength(1);
  });
});
