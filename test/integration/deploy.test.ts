/**
 * The spine (issue 3): an upload becomes a running app on a port Slipway chose; a new version replaces it
 * only once healthy; a broken version never takes the running one down; older images stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, get, readSse, upload, waitForDeploy } from '../helpers/api';
import { fixtureEntries, fixtureTgz, tarOf } from '../helpers/archives';
import { containersOf, docker, imageExists, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
const answer = async (port: number) => (await get(`http://127.0.0.1:${port}/`)).text.trim();

beforeAll(async () => {
  slipway = await startSlipway();
});
afterAll(async () => {
  await slipway?.stop();
});

describe('deploying an app', () => {
  let v1Port = 0;
  let v1Id = '';

  it('answers 202 at once, then runs the app on a port it chose', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
    expect(res.status).toBe(202);
    expect(res.body.deploy).toMatchObject({ app: 'hello', version: '1.0.0', status: 'queued', stage: 'queued', kind: 'deploy' });
    expect(res.body.deploy.image).toBe(`${slipway.prefix}hello:1.0.0`);
    v1Id = res.body.deploy.id;

    const done = await waitForDeploy(slipway.url, v1Id);
    expect(done).toMatchObject({ status: 'succeeded', stage: 'done', progress: 100 });
    v1Port = done.port!;
    expect(v1Port).toBeGreaterThan(0);
    expect(await answer(v1Port)).toBe('hello 1.0.0');

    const { body } = await call(slipway.url, 'GET', '/api/apps/hello');
    expect(body.app.current).toMatchObject({ version: '1.0.0', port: v1Port, status: 'running' });
    expect(body.app.versions).toEqual([expect.objectContaining({ version: '1.0.0', status: 'running' })]);
  });

  it('runs the container hardened, labelled and named as SPEC §3 says', async () => {
    const info = await docker.getContainer('slipway-hello-1.0.0').inspect();
    expect(info.Config.Labels).toMatchObject({ 'io.slipway.app': 'hello', 'io.slipway.version': '1.0.0', 'io.slipway.deploy': v1Id });
    expect(info.HostConfig).toMatchObject({
      Init: true,
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1e9,
      PidsLimit: 256,
      CapDrop: ['ALL'],
      CapAdd: ['NET_BIND_SERVICE'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Privileged: false,
    });
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(info.HostConfig.PortBindings?.['3000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(v1Port) }]);
    expect(info.Config.Env).toContain('PORT=3000');
    const image = await docker.getImage(`${slipway.prefix}hello:1.0.0`).inspect();
    expect(image.Config.Labels).toMatchObject({ 'io.slipway.app': 'hello', 'io.slipway.version': '1.0.0', 'io.slipway.deploy': v1Id });
  });

  it('replays the stages, build log and outcome to a late SSE client', async () => {
    const events = await readSse(`${slipway.url}/api/deploys/${v1Id}/events`);
    const stages = events.filter((e) => e.event === 'stage').map((e) => e.data.stage);
    expect(stages).toEqual(['queued', 'unpack', 'build', 'start', 'health', 'switch', 'done']);
    expect(events.some((e) => e.event === 'log' && /Step \d+\/\d+ : FROM/.test(e.data.line))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { deploy: { id: v1Id, status: 'succeeded' } } });
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('switches to v2 once healthy, keeping v1 image', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '2.0.0' }), 'hello.tgz');
    expect(res.status).toBe(202);
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(done.port).not.toBe(v1Port);
    expect(await answer(done.port!)).toBe('hello 2.0.0');
    expect(await imageExists(`${slipway.prefix}hello:1.0.0`)).toBe(true);
    expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-hello-2.0.0']);

    const { body } = await call(slipway.url, 'GET', '/api/apps');
    const hello = body.apps.find((a: { name: string }) => a.name === 'hello');
    expect(hello.current.version).toBe('2.0.0');
    expect(Object.fromEntries(hello.versions.map((v: { version: string; status: string }) => [v.version, v.status]))).toEqual({
      '1.0.0': 'previous',
      '2.0.0': 'running',
    });
  });

  it('fails a crashing v3 with its last log lines, and v2 keeps answering', async () => {
    const { body: before } = await call(slipway.url, 'GET', '/api/apps/hello');
    const res = await upload(slipway.url, await tarOf(await fixtureEntries('crash')), 'crash.tgz', { app: 'hello', version: '3.0.0' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('unhealthy');
    expect(done.error?.message).toMatch(/exited with code 3/);
    expect(done.error?.logs?.join('\n')).toContain('cannot connect to the database');
    expect(await answer(before.app.current.port)).toBe('hello 2.0.0');
    expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-hello-2.0.0']);
    expect(await imageExists(`${slipway.prefix}hello:3.0.0`)).toBe(false);
    const { body } = await call(slipway.url, 'GET', '/api/apps/hello');
    expect(body.app.current.version).toBe('2.0.0');
  });

  it('answers 409 for a version that exists, and stores nothing', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '2.0.0' }), 'hello.tgz');
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe('version_exists');
    expect(res.body.error?.message).toMatch(/immutable/);
  });

  it('lets a failed version be uploaded again once fixed', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '3.0.0' }), 'hello.tgz');
    expect(res.status).toBe(202);
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(await answer(done.port!)).toBe('hello 3.0.0');
  });
});

describe('building', () => {
  it('uses the app\'s own Dockerfile and its exposed port', async () => {
    const res = await upload(slipway.url, await tarOf(await fixtureEntries('own-dockerfile')), 'own.tgz', { app: 'own', version: '1' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(await answer(done.port!)).toBe('own dockerfile');
    const info = await docker.getContainer('slipway-own-1').inspect();
    expect(Object.keys(info.HostConfig.PortBindings ?? {})).toEqual(['8000/tcp']);
  });

  it('fails a broken Dockerfile with the builder\'s message and leaves no container behind', async () => {
    const before = (await docker.listContainers({ all: true })).length;
    const res = await upload(slipway.url, await tarOf(await fixtureEntries('broken-dockerfile')), 'broken.tgz', { app: 'broken', version: '1' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done).toMatchObject({ status: 'failed', stage: 'build' });
    expect(done.error?.code).toBe('build_failed');
    expect(done.error?.message).toMatch(/non-zero code: 7/);
    expect((await docker.listContainers({ all: true })).length).toBe(before);
    expect(await imageExists(`${slipway.prefix}broken:1`)).toBe(false);
  });
});

describe('reading state', () => {
  it('lists deploys newest first, filtered by app and limited', async () => {
    const { body } = await call(slipway.url, 'GET', '/api/deploys?app=hello&limit=2');
    expect(body.deploys).toHaveLength(2);
    expect(body.deploys[0].createdAt >= body.deploys[1].createdAt).toBe(true);
    expect(body.deploys.every((d: { app: string }) => d.app === 'hello')).toBe(true);
  });

  it('answers clear errors for bad queries and unknown things', async () => {
    expect(await call(slipway.url, 'GET', '/api/deploys?limit=0')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await call(slipway.url, 'GET', '/api/deploys?app=Bad_Name')).toMatchObject({ status: 400 });
    expect(await call(slipway.url, 'GET', '/api/deploys/dnope0000000000000')).toMatchObject({ status: 404, body: { error: { code: 'deploy_not_found' } } });
    expect(await call(slipway.url, 'GET', '/api/apps/nope')).toMatchObject({ status: 404, body: { error: { code: 'app_not_found' } } });
    expect(await call(slipway.url, 'GET', '/api/nothing')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('shows the queue and health', async () => {
    const { body } = await call(slipway.url, 'GET', '/api/queue');
    expect(body.counts).toEqual(expect.objectContaining({ waiting: 0, active: 0 }));
    expect(body.counts.completed).toBeGreaterThanOrEqual(4);
    const health = await call(slipway.url, 'GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { ok: true, redis: true, docker: true } });
  });
});
