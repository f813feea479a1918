/**
 * Fault 5 (issue 9): the data dir's disk fills up. The data dir here is a 48 MiB tmpfs. Filled by the
 * unpack: the deploy ends `failed` (`disk_full`) and its half-written folder is gone, space back. Filled
 * by something else while a build runs: the build itself needs only Docker's disk, so the deploy goes on;
 * meanwhile uploads are refused with 507 and nothing is left of them, the services stay up, and the log
 * history picks up again once there is room. The running version is untouched throughout.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '@slipway/contracts/logs';
import { call, upload, viaGateway, waitForDeploy, waitForStage } from '../helpers/api';
import { fixtureEntries, steadyApp, tarOf } from '../helpers/archives';
import { containersOf, prober, startSlipway, type Slipway } from '../helpers/slipway';

const run = promisify(execFile);
let slipway: Slipway;
let mountPoint: string;

async function usedMiB(): Promise<number> {
  const s = await statfs(mountPoint);
  return ((s.blocks - s.bfree) * s.bsize) / 1048576;
}

/** Writes a file until the disk refuses (ENOSPC); returns its path. */
async function fillDisk(): Promise<string> {
  const file = path.join(mountPoint, 'filler.bin');
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
  return file;
}

async function steadyContainers() {
  return (await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === 'steady');
}

beforeAll(async () => {
  mountPoint = await mkdtemp(path.join(tmpdir(), 'slipway-small-disk-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mountPoint]).catch((err: Error) => {
    throw new Error(`this test mounts a 48 MiB tmpfs as the data dir and needs root for it: ${err.message}`);
  });
  slipway = await startSlipway({ dataDir: mountPoint, env: { SLIPWAY_WATCH_S: '0' } });
  for (const archive of [await steadyApp('1.0.0'), await tarOf(await fixtureEntries('chatty'))]) {
    const res = await upload(slipway.url, archive, 'app.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  }
});
afterAll(async () => {
  await slipway?.stop();
  await run('umount', [mountPoint]).catch(() => {});
  await rmdir(mountPoint).catch(() => {});
});

describe('a full data disk', () => {
  it('during the unpack: failed as disk_full, the half-written folder gone, 1.0.0 serving', async () => {
    const probe = prober(slipway.gatewayUrl, 'steady.localhost');
    const before = await usedMiB();
    // 100 MiB of zeros: a small upload that cannot fit once unpacked.
    const entries = await fixtureEntries('slowstop', { version: '2.0.0' });
    entries.push({ name: 'big.bin', content: Buffer.alloc(100 * 1024 * 1024) });
    const res = await upload(slipway.url, await tarOf(entries), 'steady.tgz');
    expect(res.status).toBe(202);

    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done).toMatchObject({ status: 'failed', stage: 'unpack', error: { code: 'disk_full' } });
    expect(done.error?.message).toMatch(/space/i);
    const appDir = path.join(mountPoint, 'cluster', 'steady');
    expect((await readdir(appDir)).sort()).toEqual(['1.0.0']);
    // The space is back (chatty's log history keeps growing a little meanwhile).
    expect(await usedMiB()).toBeLessThan(before + 8);

    // The refusal takes about a second; the probe goes on through the cleanup after it.
    await new Promise((r) => setTimeout(r, 1500));
    const { failures, sent } = await probe.stop();
    expect(sent).toBeGreaterThan(5);
    expect(failures).toEqual([]);
    expect((await steadyContainers()).map((c) => c.labels['io.slipway.version'])).toEqual(['1.0.0']);
  });

  it('during a build: the deploy goes on, uploads get 507 and leave nothing, held log lines reach the history', async () => {
    const res = await upload(slipway.url, await steadyApp('3.0.0', { buildSleepS: 6 }), 'steady.tgz');
    expect(await waitForStage(slipway.url, res.body.deploy.id, 'build')).toBe('build');
    const filler = await fillDisk();
    const fullFrom = new Date().toISOString();
    let fullTo = '';
    try {
      const refused = await upload(slipway.url, await steadyApp('4.0.0'), 'steady.tgz');
      expect(refused.status).toBe(507);
      expect(refused.body.error?.code).toBe('disk_full');
      expect(await readdir(path.join(mountPoint, 'uploads'))).toEqual([]);

      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect(done.status).toBe('succeeded');
      expect((await viaGateway(slipway.gatewayUrl, 'steady.localhost')).text).toBe('steady 3.0.0\n');
      // All three services lived through it.
      for (const child of [slipway.api, slipway.worker, slipway.gateway]) expect(child.exitCode).toBeNull();
      expect((await call(slipway.url, 'GET', '/healthz')).status).toBe(200);
    } finally {
      fullTo = new Date().toISOString();
      await rm(filler);
    }

    // chatty's lines from while the disk was full were held in memory and are written once there is room.
    const window = `/api/apps/chatty/logs?tail=10000&since=${encodeURIComponent(fullFrom)}&until=${encodeURIComponent(fullTo)}`;
    let lines: LogLine[] = [];
    for (let i = 0; i < 40 && lines.length < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      lines = (await call(slipway.url, 'GET', window)).body.lines;
    }
    expect(lines.length).toBeGreaterThanOrEqual(20);
    // None missing or twice: chatty numbers its lines.
    const seqs = lines.filter((l) => l.stream === 'stdout' || l.stream === 'stderr').map((l) => Number(/seq=(\d+)/.exec(l.text)?.[1])).filter((n) => !Number.isNaN(n)).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.at(-1)! - seqs[0]! + 1).toBe(seqs.length);
    expect((await steadyContainers()).map((c) => c.labels['io.slipway.version'])).toEqual(['3.0.0']);
  });
});
