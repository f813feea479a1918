/**
 * Fault 1 (issue 9): the worker is killed (-9) during the unpack, the build, the health check and the
 * switch of a deploy. Each time: the deploy is retried at most once or ends failed with a reason, the
 * running version answers every 100 ms probe throughout, and afterwards there is exactly one container
 * of the app, no half-unpacked folder and no deploy left running.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deploy } from '@slipway/contracts/deploy';
import { call, upload, waitForDeploy, waitForStage } from '../helpers/api';
import { steadyApp as app } from '../helpers/archives';
import { containersOf, prober, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

/** Uploads `archive`, kills the worker when the deploy reaches `stage`, restarts it, and checks the aftermath. */
async function killDuring(stage: string, version: string, archive: Buffer) {
  const probe = prober(slipway.gatewayUrl, 'steady.localhost');
  const res = await upload(slipway.url, archive, 'steady.tgz');
  expect(res.status).toBe(202);
  const id = res.body.deploy.id;
  expect(await waitForStage(slipway.url, id, stage)).toBe(stage);
  await slipway.killWorker('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  await slipway.startWorker();
  const done = await waitForDeploy(slipway.url, id);
  const { failures, sent } = await probe.stop();

  // Retried at most once, or failed with a reason.
  expect(done.attempts ?? 1).toBeLessThanOrEqual(2);
  if (done.status === 'failed') expect(done.error?.message.length).toBeGreaterThan(5);
  else expect(done.status).toBe('succeeded');
  // The running version answered throughout.
  expect(sent).toBeGreaterThan(20);
  expect(failures).toEqual([]);
  // Exactly one current version, one container, nothing half-done.
  const { body } = await call(slipway.url, 'GET', '/api/apps/steady');
  const ours = (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === 'steady');
  expect(ours.map((c) => c.state)).toEqual(['running']);
  expect(ours[0]!.labels['io.slipway.version']).toBe(body.app.current.version);
  expect(body.app.current.version).toBe(done.status === 'succeeded' ? version : body.app.current.version);
  const dirs = await readdir(path.join(slipway.dataDir, 'cluster', 'steady'));
  expect(dirs.filter((d) => d.startsWith('.unpack-'))).toEqual([]);
  const stuck = body.app.deploys.filter((d: Deploy) => d.status === 'queued' || d.status === 'running');
  expect(stuck).toEqual([]);
  return done;
}

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_STOP_GRACE_S: '5', SLIPWAY_WATCH_S: '0' } });
  const res = await upload(slipway.url, await app('1.0.0'), 'steady.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
});
afterAll(async () => {
  await slipway?.stop();
});

describe('the worker killed mid-deploy', () => {
  it('during the unpack', async () => {
    await killDuring('unpack', '2.0.0', await app('2.0.0', { blobMiB: 400 }));
  });

  it('during the build', async () => {
    await killDuring('build', '3.0.0', await app('3.0.0', { buildSleepS: 4 }));
  });

  it('during the health check', async () => {
    await killDuring('health', '4.0.0', await app('4.0.0', { startDelayMs: 4000 }));
  });

  it('during the switch', async () => {
    await killDuring('switch', '5.0.0', await app('5.0.0'));
  });
});
