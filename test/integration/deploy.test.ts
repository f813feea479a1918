/**
 * The spine (issue 3): an upload becomes a running app on a port Slipway chose; a new version replaces it
 * only once healthy; a broken version never takes the running one down; older images stay.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
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
    // Another installation on this engine (the panel tests run beside these) may hold the plain name.
    const [mine] = (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.deploy'] === v1Id);
    expect(mine!.name).toBe('slipway-hello-1.0.0');
    const info = await docker.getContainer(mine!.id).inspect();
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

describe('a container name that is taken', () => {
  it('leaves a container it did not make alone and names its own after this installation', async () => {
    const foreign = await docker.createContainer({ name: 'slipway-named-1.0.0', Image: 'node:20-slim', Cmd: ['true'] });
    try {
      const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'named', version: '1.0.0' }), 'named.tgz');
      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect(done.status).toBe('succeeded');
      expect(await answer(done.port!)).toBe('named 1.0.0');
      const [mine] = (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === 'named');
      expect(mine!.dockerName).toBe(`slipway-named-1.0.0-${slipway.instance}`);
      expect((await foreign.inspect()).Name).toBe('/slipway-named-1.0.0');
    } finally {
      await foreign.remove({ force: true });
      await call(slipway.url, 'DELETE', '/api/apps/named');
    }
  });
});

describe('building', () => {
  it('retries a failed deploy from its kept archive; refused archives and all but the 3 newest failed ones are not kept', async () => {
    const failing = async (version: string, archive: Buffer) => {
      const res = await upload(slipway.url, archive, 'x.tgz', { app: 'retry', version });
      return waitForDeploy(slipway.url, res.body.deploy.id);
    };
    const broken = await tarOf([{ name: 'Dockerfile', content: 'FROM node:20-slim\nRUN exit 2\n' }]);
    const failed = [];
    for (const v of ['1', '2', '3', '4']) failed.push(await failing(v, broken));
    expect(failed.map((d) => d.error?.code)).toEqual(Array(4).fill('build_failed'));
    const retryOf = (id: string) => call(slipway.url, 'POST', `/api/deploys/${id}/retry`);
    // The newest three can be retried (a build that failed for a passing cause may pass the second time).
    const again = await retryOf(failed[3]!.id);
    expect(again.status).toBe(202);
    expect(again.body.deploy).toMatchObject({ app: 'retry', version: '4' });
    expect((await waitForDeploy(slipway.url, again.body.deploy.id)).status).toBe('failed');
    // The oldest one's archive is gone, and the answer says what to do.
    const tooOld = await retryOf(failed[0]!.id);
    expect(tooOld.status).toBe(409);
    expect(tooOld.body.error.message).toMatch(/upload it again/);
    // An archive the unpack refused is never kept: no retry can get past it.
    const tgz = await fixtureTgz('hello', { version: '5' });
    const corrupt = await failing('5', tgz.subarray(0, tgz.length >> 1));
    expect(corrupt.error?.code).toBe('corrupt_archive');
    const kept = async () => (await readdir(path.join(slipway.dataDir, 'archives', 'retry'))).filter((f) => f.startsWith('5-'));
    for (let i = 0; i < 40 && (await kept()).length; i++) await new Promise((r) => setTimeout(r, 50)); // dropped just after the record says failed
    expect(await kept()).toEqual([]);
    const refused = await retryOf(corrupt.id);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/upload it again/);
  });

  it('reuses the dependency install layer when a new version changes only its version and code', async () => {
    const appOf = async (version: string, body: string) => {
      const entries = await fixtureEntries('hello', { name: 'cached', version });
      const pkg = JSON.parse(String(entries.find((e) => e.name === 'package.json')!.content));
      pkg.scripts = { ...pkg.scripts, [`note-${version}`]: 'echo a script npm ci never runs' };
      const lock = { name: 'cached', version, lockfileVersion: 3, requires: true, packages: { '': { name: 'cached', version } } };
      return tarOf([
        ...entries.filter((e) => e.name !== 'package.json' && e.name !== 'server.js'),
        { name: 'package.json', content: JSON.stringify(pkg) },
        { name: 'package-lock.json', content: JSON.stringify(lock) },
        { name: 'server.js', content: `require('node:http').createServer((q, r) => r.end('${body}')).listen(process.env.PORT);` },
      ]);
    };
    const installStep = async (version: string, body: string) => {
      const res = await upload(slipway.url, await appOf(version, body), 'cached.tgz');
      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect(done.status).toBe('succeeded');
      expect(await answer(done.port!)).toBe(body);
      const lines: string[] = (await readSse(`${slipway.url}/api/deploys/${done.id}/events`)).filter((e) => e.event === 'log').map((e) => e.data.line);
      const step = lines.findIndex((l) => /^Step \d+\/\d+ : RUN .*npm ci/.test(l));
      expect(step).toBeGreaterThan(0);
      return lines[step + 1];
    };
    expect(await installStep('1.0.0', 'first')).not.toMatch(/Using cache/);
    expect(await installStep('1.1.0', 'second')).toMatch(/Using cache/);
    await call(slipway.url, 'DELETE', '/api/apps/cached');
  });

  it('runs the build script with the dev dependencies, then drops them; skips npm when there is neither', async () => {
    const built = await tarOf([
      { name: 'package.json', content: JSON.stringify({ name: 'built', version: '1.0.0', scripts: { build: 'node build.js' }, devDependencies: { ms: '2.1.3' } }) },
      // The build uses the dev dependency; the server says what the build made and whether it is still there.
      // The build runs without NODE_ENV (a Makefile's `npm install` must still get dev dependencies); the app with production.
      { name: 'build.js', content: "require('node:fs').writeFileSync('built.txt', 'built with ms: ' + require('ms')('1h') + ' (NODE_ENV ' + (process.env.NODE_ENV || 'unset') + ')');" },
      { name: 'server.js', content: "const fs = require('node:fs'); let dev = 'pruned'; try { require.resolve('ms'); dev = 'kept'; } catch {} require('node:http').createServer((q, r) => r.end(fs.readFileSync('built.txt', 'utf8') + ', dev dependencies ' + dev + ', running with NODE_ENV ' + process.env.NODE_ENV)).listen(process.env.PORT);" },
    ]);
    const res = await upload(slipway.url, built, 'built.tgz');
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(await answer(done.port!)).toBe('built with ms: 3600000 (NODE_ENV unset), dev dependencies pruned, running with NODE_ENV production');
    const steps = async (id: string) => (await readSse(`${slipway.url}/api/deploys/${id}/events`)).filter((e) => e.event === 'log').map((e) => String(e.data.line));
    const log = await steps(done.id);
    expect(log.some((l) => /> node build\.js/.test(l))).toBe(true);
    const sourceStep = (lines: string[]) => lines.findIndex((l) => /^Step \d+\/\d+ : RUN .*build_script/.test(l));
    expect(sourceStep(log)).toBeGreaterThan(0);

    // No build script, no dev dependencies: no source step, and no npm after the source is copied.
    const plain = await upload(slipway.url, await tarOf(await fixtureEntries('hello', { name: 'plain', version: '1.0.0' })), 'plain.tgz');
    const plainDone = await waitForDeploy(slipway.url, plain.body.deploy.id);
    expect(plainDone.status).toBe('succeeded');
    const plainLog = await steps(plainDone.id);
    expect(sourceStep(plainLog)).toBe(-1);
    const copied = plainLog.findIndex((l) => /^Step \d+\/\d+ : COPY \. \./.test(l));
    expect(copied).toBeGreaterThan(0);
    // (npm prune would say "up to date", npm run "> plain@1.0.0 build".)
    expect(plainLog.slice(copied + 1).filter((l) => /npm|prune|up to date|> plain@/i.test(l))).toEqual([]);
    // After the copy only Slipway's label step: a bump of such an app commits two layers, no more.
    expect(plainLog.slice(copied + 1).filter((l) => /^Step \d+\/\d+ : /.test(l)).map((l) => l.split(' : ')[1]!.split(' ')[0])).toEqual(['LABEL']);
    await call(slipway.url, 'DELETE', '/api/apps/built');
    await call(slipway.url, 'DELETE', '/api/apps/plain');
  });

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
    // The recent finished jobs stay listed (issue 18), newest first, with their kind and duration.
    const completed = body.jobs.filter((j: { state: string }) => j.state === 'completed');
    expect(completed.length).toBeGreaterThanOrEqual(4);
    for (const job of completed) {
      expect(job.kind).toMatch(/^(deploy|rollback|restart|start|stop|delete|volume-export|volume-restore)$/);
      expect(job.durationMs).toBeGreaterThan(0);
      expect(Date.parse(job.finishedAt)).toBeLessThanOrEqual(Date.now());
    }
    const app = completed[0].app;
    const one = (await call(slipway.url, 'GET', `/api/queue?app=${app}`)).body.jobs;
    expect(one.length).toBeGreaterThan(0);
    expect(one.every((j: { app: string }) => j.app === app)).toBe(true);
    expect(await call(slipway.url, 'GET', '/api/queue?app=Bad_Name')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const health = await call(slipway.url, 'GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { ok: true, redis: true, docker: true } });
  });
});
