/**
 * Job payloads are input too (issue 12): a deploy job whose `archivePath` leaves the data dir's archives
 * and uploads (written straight into the BullMQ queue by anyone who reaches Redis) fails at once with
 * `unsafe_job`, is not retried, and its file is never opened — not even a valid app archive.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDeploy } from '@slipway/records/enqueue';
import { createDeployQueue, type DeployQueue } from '@slipway/records/queue';
import { Store } from '@slipway/records/store';
import { readSse, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz, tarOf } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let redis: Redis;
let queue: DeployQueue;
/** A perfectly deployable archive outside the data dir: deploying it would prove the worker read it. */
const outside = path.join(tmpdir(), `slipway-outside-${randomBytes(4).toString('hex')}.tgz`);

async function hostileJob(version: string, archivePath: string) {
  const id = `dhostile${randomBytes(6).toString('hex')}`;
  await enqueueDeploy({ redis, store: new Store(redis), queue, imagePrefix: slipway.prefix }, { id, app: 'victim', version, kind: 'deploy', trigger: 'user' }, { kind: 'deploy', archivePath });
  const deploy = await waitForDeploy(slipway.url, id, 60_000);
  // The record says failed just before BullMQ files the job as failed.
  let job = await queue.getJob(id);
  for (let i = 0; i < 100 && !job?.finishedOn; i++, await new Promise((r) => setTimeout(r, 50))) job = await queue.getJob(id);
  return { deploy, job };
}

// Setup waits for a whole Slipway on a shared 2-core machine: more than the default hook time.
beforeAll(async () => {
  slipway = await startSlipway();
  redis = new Redis(slipway.redisUrl, { maxRetriesPerRequest: null });
  queue = createDeployQueue(redis);
  await writeFile(outside, await fixtureTgz('hello', { name: 'victim', version: '1.0.0' }));
}, 400_000);
afterAll(async () => {
  await queue?.close();
  await redis?.quit();
  await rm(outside, { force: true });
  await slipway?.stop();
});

describe('deploy job payloads', () => {
  it('fails a job naming a file outside the data dir at once, without reading it or retrying', async () => {
    const archives = path.join(slipway.dataDir, 'archives', 'victim');
    await mkdir(archives, { recursive: true });
    await symlink(outside, path.join(archives, 'linked.tgz'));
    const cases = {
      'etc-passwd': '/etc/passwd',
      'valid-outside': outside,
      'dot-dot': path.join(slipway.dataDir, 'archives', '..', '..', path.basename(outside)),
      'through-link': path.join(archives, 'linked.tgz'),
      'data-dir-itself': path.join(slipway.dataDir, 'cluster', 'x.tgz'),
      relative: 'archives/victim/x.tgz',
    };
    const outcomes: Record<string, unknown> = {};
    for (const [version, archivePath] of Object.entries(cases)) {
      const { deploy, job } = await hostileJob(version, archivePath);
      outcomes[version] = {
        status: deploy.status,
        code: deploy.error?.code,
        says: /outside .*archives/.test(deploy.error?.message ?? ''),
        attempts: job?.attemptsMade,
        // Nothing was unpacked from it.
        unpacked: existsSync(path.join(slipway.dataDir, 'cluster', 'victim', version)),
      };
    }
    const refused = { status: 'failed', code: 'unsafe_job', says: true, attempts: 1, unpacked: false };
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(cases).map((version) => [version, refused])));
    expect(existsSync(outside)).toBe(true);
    // Before the fix the archive outside was deployed: give that case time to fail clearly.
  }, 400_000);

  it('never deletes a file outside the archive folders when it sweeps old failed archives', async () => {
    // Version records name their archive too, and they live in Redis: plant failed ones naming the file outside.
    const store = new Store(redis);
    for (const version of ['0.0.1', '0.0.2', '0.0.3']) {
      await store.putVersion('victim', { version, image: `${slipway.prefix}victim:${version}`, deployId: `dplanted${version}`, state: 'failed', createdAt: `2020-01-0${version.at(-1)}T00:00:00.000Z`, archivePath: outside });
    }
    // A real failure of the app sweeps all but the 3 newest failed archives: the planted ones.
    const broken = await tarOf([{ name: 'Dockerfile', content: 'FROM node:20-slim\nRUN exit 3\n' }]);
    const res = await upload(slipway.url, broken, 'victim.tar', { app: 'victim', version: '2.0.0' });
    expect(res.status).toBe(202);
    const events = await readSse(`${slipway.url}/api/deploys/${res.body.deploy.id}/events`, 120_000);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { deploy: { status: 'failed' } } });
    // Three failed archives are kept per app: with the new failure, the oldest planted one is swept.
    const planted = (await store.getVersions('victim')).filter((v) => v.deployId.startsWith('dplanted'));
    expect(planted.map((v) => [v.version, v.archivePath])).toEqual([['0.0.3', outside], ['0.0.2', outside], ['0.0.1', undefined]]);
    expect(existsSync(outside)).toBe(true);
  }, 300_000);
});
