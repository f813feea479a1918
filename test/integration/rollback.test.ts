/**
 * Versions and rollback (issue 4): kept images, one-call rollback by re-running a tag, retention that
 * never touches the running or previous version, rebuild of a pruned one, automatic rollback after a
 * switch that goes bad.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deploy } from '@slipway/contracts/deploy';
import { call, get, readSse, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz, tarOf } from '../helpers/archives';
import { imageExists, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
const body = async (port: number, path = '/') => (await get(`http://127.0.0.1:${port}${path}`)).text.trim();
const app = async () => (await call(slipway.url, 'GET', '/api/apps/hello')).body.app;
const statuses = async () => Object.fromEntries((await app()).versions.map((v: { version: string; status: string }) => [v.version, v.status]));

async function deployVersion(version: string): Promise<Deploy> {
  const res = await upload(slipway.url, await fixtureTgz('hello', { version }), 'hello.tgz');
  expect(res.status).toBe(202);
  return waitForDeploy(slipway.url, res.body.deploy.id);
}

async function rollbackTo(version?: string) {
  return call<{ deploy: Deploy; error?: { code: string; message: string } }>(slipway.url, 'POST', '/api/apps/hello/rollback', version ? { version } : {});
}

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_KEEP_VERSIONS: '3', SLIPWAY_WATCH_S: '10' } });
});
afterAll(async () => {
  await slipway?.stop();
});

describe('retention', () => {
  it('keeps SLIPWAY_KEEP_VERSIONS images, the running and previous ones always', async () => {
    for (const v of ['1.0.0', '2.0.0', '3.0.0', '4.0.0']) expect((await deployVersion(v)).status).toBe('succeeded');
    expect(await statuses()).toEqual({ '4.0.0': 'running', '3.0.0': 'previous', '2.0.0': 'kept', '1.0.0': 'pruned' });
    expect(await imageExists(`${slipway.prefix}hello:1.0.0`)).toBe(false);
    for (const v of ['2.0.0', '3.0.0', '4.0.0']) expect(await imageExists(`${slipway.prefix}hello:${v}`)).toBe(true);
  });
});

describe('rollback', () => {
  it('goes back to the previous version by default, without a rebuild', async () => {
    const res = await rollbackTo();
    expect(res.status).toBe(202);
    expect(res.body.deploy).toMatchObject({ kind: 'rollback', version: '3.0.0', trigger: 'user' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(await body(done.port!)).toBe('hello 3.0.0');
    const stages = (await readSse(`${slipway.url}/api/deploys/${done.id}/events`)).filter((e) => e.event === 'stage').map((e) => e.data.stage);
    expect(stages).toEqual(['queued', 'start', 'health', 'switch', 'done']);
    expect(await statuses()).toMatchObject({ '3.0.0': 'running', '4.0.0': 'previous' });
  });

  it('brings back each kept version with that version\'s answer', async () => {
    for (const version of ['2.0.0', '4.0.0', '3.0.0']) {
      const res = await rollbackTo(version);
      expect(res.status).toBe(202);
      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect(done.status).toBe('succeeded');
      expect(await body(done.port!)).toBe(`hello ${version}`);
      expect((await app()).current.version).toBe(version);
    }
    // Rollbacks never prune the versions they come back to.
    expect(await statuses()).toMatchObject({ '2.0.0': 'kept', '3.0.0': 'running', '4.0.0': 'previous' });
  });

  it('refuses a pruned, unknown, failed or already running version with a clear answer', async () => {
    const pruned = await rollbackTo('1.0.0');
    expect(pruned.status).toBe(409);
    expect(pruned.body.error).toMatchObject({ code: 'image_pruned', message: expect.stringContaining('/versions/1.0.0/rebuild') });
    expect((await rollbackTo('9.9.9')).body.error?.code).toBe('version_not_found');
    expect((await rollbackTo('9.9.9')).status).toBe(404);
    const running = await rollbackTo('3.0.0');
    expect(running.status).toBe(409);
    expect(running.body.error?.code).toBe('already_running');
    expect((await call(slipway.url, 'POST', '/api/apps/hello/rollback', { version: '../x' })).status).toBe(400);
    expect((await call(slipway.url, 'POST', '/api/apps/nope/rollback', {})).status).toBe(404);
  });

  it('builds a pruned version again from its kept archive', async () => {
    const res = await call(slipway.url, 'POST', '/api/apps/hello/versions/1.0.0/rebuild');
    expect(res.status).toBe(202);
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect(await body(done.port!)).toBe('hello 1.0.0');
    const notPruned = await call(slipway.url, 'POST', '/api/apps/hello/versions/1.0.0/rebuild');
    expect(notPruned).toMatchObject({ status: 409, body: { error: { code: 'version_exists' } } });
  });
});

describe('automatic rollback', () => {
  it('rolls back a version that passes its health check and then crashes within SLIPWAY_WATCH_S', async () => {
    const before = (await app()).current.version;
    const flaky = await tarOf([
      { name: 'package.json', content: JSON.stringify({ name: 'hello', version: '5.0.0', scripts: { start: 'node flaky.js' } }) },
      {
        name: 'flaky.js',
        // It crashes when told to, once live: a timer could fire before the switch on a busy machine.
        content: "require('http').createServer((q, s) => { s.end('flaky'); if (q.url === '/crash') { console.error('fatal: lost the database'); setTimeout(() => process.exit(1), 50); } }).listen(process.env.PORT);",
      },
    ]);
    const res = await upload(slipway.url, flaky, 'flaky.tgz');
    const deployed = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(deployed.status).toBe('succeeded');
    expect(await body(deployed.port!, '/crash')).toBe('flaky');

    let record: Deploy = deployed;
    for (let i = 0; i < 100 && !record.rolledBack; i++) {
      await new Promise((r) => setTimeout(r, 200));
      record = (await call(slipway.url, 'GET', `/api/deploys/${deployed.id}`)).body.deploy;
    }
    expect(record).toMatchObject({ status: 'failed', error: { code: 'unhealthy' }, rolledBack: { to: before } });
    expect(record.error?.message).toMatch(/rolled back to .* automatically/);
    const rollback = await waitForDeploy(slipway.url, record.rolledBack!.by);
    expect(rollback).toMatchObject({ status: 'succeeded', kind: 'rollback', trigger: 'auto', version: before });
    expect(await body(rollback.port!)).toBe(`hello ${before}`);
    expect(await statuses()).toMatchObject({ '5.0.0': 'failed', [before]: 'running' });
  });
});
