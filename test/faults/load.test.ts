/**
 * Faults 8–10 (issue 9): load. Twenty deploys of one app queued at once run one at a time in queue order;
 * ten apps at once never run more than SLIPWAY_CONCURRENCY deploys together; 1,500 event streams that
 * vanish abruptly give back every descriptor, Redis subscription, Docker log stream and byte of heap; a thousand aborted
 * uploads and a thousand corrupt archives leave the API up with its descriptors and disk as before.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deploy } from '@slipway/contracts/deploy';
import { call, upload, waitForDeploy } from '../helpers/api';
import { dockerfileApp, fixtureEntries, tarOf } from '../helpers/archives';
import { heapAfterGc, processUsage, startSlipway, type Slipway } from '../helpers/slipway';

const PER_CLIENT = 1000;
const TOTAL = 1500;
/** The worker's descriptors move with its own work (a stats call per container, the engine's event stream). */
const WORKER_FD_NOISE = 20;
let slipway: Slipway;
let redis: Redis;

/** The most deploys that were running at the same moment. */
function maxOverlap(deploys: Deploy[]): number {
  const edges = deploys.flatMap((d) => [
    { t: Date.parse(d.startedAt!), step: 1 },
    { t: Date.parse(d.finishedAt!), step: -1 },
  ]);
  // Ends before starts at the same instant: back-to-back is not overlap.
  edges.sort((a, b) => a.t - b.t || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (now += e.step));
  return most;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    value = await read();
  }
  return value;
}

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_CONCURRENCY: '2', SLIPWAY_SSE_MAX_PER_CLIENT: String(PER_CLIENT), SLIPWAY_SSE_MAX_TOTAL: String(TOTAL) } });
  redis = new Redis(slipway.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await slipway?.stop();
});

describe('many deploys', () => {
  it('runs 20 deploys of one app queued at once one at a time, in order; the last is current', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const res = await upload(slipway.url, await dockerfileApp('serial', String(i)), 'x.tgz', { app: 'serial', version: String(i) });
      expect(res.status).toBe(202);
      ids.push(res.body.deploy.id);
    }
    const done: Deploy[] = [];
    for (const id of ids) done.push(await waitForDeploy(slipway.url, id));
    expect(done.map((d) => d.status)).toEqual(Array(20).fill('succeeded'));
    for (let i = 1; i < done.length; i++) {
      // Each started only after the one queued before it had finished.
      expect(Date.parse(done[i]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(done[i - 1]!.finishedAt!));
    }
    expect((await call(slipway.url, 'GET', '/api/apps/serial')).body.app.current.version).toBe('20');
  });

  it('deploys 10 apps at once, never more than SLIPWAY_CONCURRENCY (2) together', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const res = await upload(slipway.url, await dockerfileApp(`many${i}`, '1', 2), 'x.tgz', { app: `many${i}`, version: '1' });
      expect(res.status).toBe(202);
      ids.push(res.body.deploy.id);
    }
    const done = await Promise.all(ids.map((id) => waitForDeploy(slipway.url, id)));
    expect(done.map((d) => d.status)).toEqual(Array(10).fill('succeeded'));
    // Two at a time: the limit is reached, never passed.
    expect(maxOverlap(done)).toBe(2);
  });
});

describe('event streams that vanish', () => {
  /** Opens an SSE request from a given loopback address; resolves once the answer's head is in. */
  function openStream(route: string, from: string): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    const { hostname, port } = new URL(slipway.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port, path: route, localAddress: from, agent: false, headers: { ...slipway.auth, accept: 'text/event-stream' } }, (res) =>
        resolve({ req, res }),
      );
      req.on('error', reject);
      req.end();
    });
  }
  const body = (res: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve(text));
    });

  async function subscriptions(): Promise<number> {
    const channels = (await redis.pubsub('CHANNELS', '*')) as string[];
    if (!channels.length) return 0;
    const counts = (await redis.pubsub('NUMSUB', ...channels)) as Array<string | number>;
    return counts.filter((_, i) => i % 2 === 1).reduce<number>((sum, n) => sum + Number(n), 0);
  }

  it('gives back descriptors, subscriptions and memory within a heartbeat; caps answer 429 and 503', async () => {
    const chatty = await upload(slipway.url, await tarOf(await fixtureEntries('chatty')), 'chatty.tgz');
    expect((await waitForDeploy(slipway.url, chatty.body.deploy.id)).status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 1000)); // the collector is attached
    const api0 = await processUsage(slipway.api.pid!);
    // The worker's busiest moment while idle (its stats calls come and go) is the baseline.
    let workerFds = 0;
    for (let i = 0; i < 30; i++, await new Promise((r) => setTimeout(r, 100))) workerFds = Math.max(workerFds, (await processUsage(slipway.worker.pid!)).fds);
    const worker0 = { fds: workerFds };
    const subs0 = await subscriptions();
    const clients0 = ((await redis.client('LIST')) as string).trim().split('\n').length;

    const routes = ['/api/apps/chatty/logs/stream', '/api/events'];
    /** 1,500 viewers come, meet the caps, and vanish; what they held must be back within a heartbeat. */
    const round = async () => {
      const open: Array<{ req: ClientRequest; res: IncomingMessage }> = [];
      const batch = async (from: string, n: number) => {
        for (let i = 0; i < n; i += 50) {
          const opened = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => openStream(routes[(i + j) % 2]!, from)));
          for (const o of opened) expect(o.res.statusCode).toBe(200);
          open.push(...opened);
        }
      };
      await batch('127.0.0.1', PER_CLIENT);
      const perClient = await openStream(routes[0]!, '127.0.0.1');
      expect(perClient.res.statusCode).toBe(429);
      expect(perClient.res.headers['retry-after']).toBeDefined();
      expect(JSON.parse(await body(perClient.res)).error.code).toBe('too_many_requests');
      await batch('127.0.0.2', TOTAL - PER_CLIENT);
      const total = await openStream(routes[1]!, '127.0.0.3');
      expect(total.res.statusCode).toBe(503);
      expect(JSON.parse(await body(total.res)).error.code).toBe('too_many_requests');

      // The live lines reach the viewers, while the worker still follows chatty with its one Docker stream.
      const first = await new Promise<string>((resolve) => open[0]!.res.once('data', (c: Buffer) => resolve(String(c))));
      expect(first.length).toBeGreaterThan(0);
      // A Docker stream per viewer would be +1,500; the margin is the stats sampler's own calls to the engine.
      expect((await processUsage(slipway.worker.pid!)).fds).toBeLessThanOrEqual(worker0.fds + WORKER_FD_NOISE);
      // Every viewer holds its socket (the baseline may have held a few passing connections of its own: a CI
      // run once counted 5 of them, one more than this allowed).
      expect((await processUsage(slipway.api.pid!)).fds).toBeGreaterThanOrEqual(api0.fds + TOTAL - 8);

      // Gone without a goodbye: half reset, half just dropped.
      open.forEach((o, i) => (i % 2 ? o.req.socket?.resetAndDestroy() : o.req.destroy()));
      const heartbeatMs = 15_000;
      const after = await until(() => processUsage(slipway.api.pid!), (u) => u.fds <= api0.fds + 2, heartbeatMs);
      expect(after.fds).toBeLessThanOrEqual(api0.fds + 2);
      expect(await until(subscriptions, (n) => n === subs0, heartbeatMs)).toBe(subs0);
      expect(((await redis.client('LIST')) as string).trim().split('\n').length).toBe(clients0);
      expect((await processUsage(slipway.worker.pid!)).fds).toBeLessThanOrEqual(worker0.fds + WORKER_FD_NOISE);
      return after.rssMiB;
    };
    // RSS alone says little (V8 collects lazily): the heap is measured after a forced full collection.
    const heap0 = await heapAfterGc(slipway.api.pid!);
    const rss1 = await round();
    const heap1 = await heapAfterGc(slipway.api.pid!);
    const rss2 = await round();
    const heap2 = await heapAfterGc(slipway.api.pid!);
    // What the streams held is given back: the heap after a full collection is where it was.
    expect(heap1).toBeLessThan(heap0 + 4);
    expect(heap2).toBeLessThan(heap0 + 4);
    console.log(`SSE x${TOTAL}: API heap after GC ${heap0} MiB before, ${heap1} after round 1, ${heap2} after round 2; RSS ${api0.rssMiB} → ${rss1} → ${rss2} MiB`);
    // And the caps are free again.
    const again = await openStream(routes[0]!, '127.0.0.3');
    expect(again.res.statusCode).toBe(200);
    again.req.destroy();
  });
});

describe('uploads that go wrong by the thousand', () => {
  async function dataFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string) => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (rel === '' && (e.name === 'logs' || e.name === 'redis')) continue; // kept by design, growing on their own
        if (e.isDirectory()) await walk(path.join(dir, e.name), path.join(rel, e.name));
        else out.push(path.join(rel, e.name));
      }
    };
    await walk(slipway.dataDir, '');
    return out.sort();
  }

  /** A multipart upload that promises 8 MiB and vanishes after 256 KiB. */
  function abortedUpload(): Promise<void> {
    const { hostname, port } = new URL(slipway.url);
    const boundary = 'slipwayabort';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="app-1.0.0.tgz"\r\nContent-Type: application/gzip\r\n\r\n`;
    return new Promise((resolve) => {
      const req = request({
        host: hostname,
        port,
        path: '/api/deploys',
        method: 'POST',
        agent: false,
        headers: { ...slipway.auth, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + 8 * 1024 * 1024) },
      });
      req.on('error', () => resolve());
      req.write(head);
      req.write(Buffer.alloc(256 * 1024, 7), () => setTimeout(() => (req.destroy(), resolve()), 2));
    });
  }

  it('stays up with descriptors and disk as before after 1,000 aborted uploads and 1,000 corrupt archives', async () => {
    const files0 = await dataFiles();
    const api0 = await processUsage(slipway.api.pid!);

    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) await abortedUpload();
    const t1 = Date.now();
    // An upload's slot is given back once the API has seen the connection go and removed the partial file:
    // the last few are still being cleaned up when the loop ends. Their descriptors come back first.
    expect((await until(() => processUsage(slipway.api.pid!), (u) => u.fds <= api0.fds + 2, 15_000)).fds).toBeLessThanOrEqual(api0.fds + 2);
    // Their slots a moment later: a request that is not multipart takes a slot and is refused with 400, or
    // finds the slots still held and gets 429.
    const slotFree = () => fetch(`${slipway.url}/api/deploys`, { method: 'POST', headers: { ...slipway.auth, 'content-type': 'text/plain' }, body: 'x' }).then((r) => r.status);
    expect(await until(slotFree, (status) => status === 400, 15_000)).toBe(400);

    const tgz = await tarOf(await fixtureEntries('hello', { version: '9.9.9' }));
    const statuses = new Map<number, number>();
    const queued: string[] = [];
    // Aborted uploads the kernel had queued before the loop ended still reach the API for a moment after
    // it, each holding an upload slot until the API sees its connection gone: an upload meeting two of them
    // is told 429 with Retry-After, and goes again as a client should. Without the aborted phase there is
    // none (200 sequential uploads, checked by hand); the count is printed below and kept small.
    let busy = 0;
    for (let i = 0; i < 1000; i++) {
      // Half are not archives at all (refused by the API); half are a cut .tgz that only the unpack finds out.
      const bad = i % 2 ? Buffer.from(`not an archive ${i}`.repeat(50)) : tgz.subarray(0, Math.floor(tgz.length / 2));
      let res = await upload(slipway.url, bad, 'x.tgz', i % 2 ? {} : { app: 'corrupt', version: `0.0.${i}` });
      for (let again = 0; res.status === 429 && again < 20; again++) {
        busy++;
        await new Promise((r) => setTimeout(r, 250));
        res = await upload(slipway.url, bad, 'x.tgz', i % 2 ? {} : { app: 'corrupt', version: `0.0.${i}` });
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) queued.push(res.body.deploy.id);
    }
    const t2 = Date.now();
    expect(Object.fromEntries(statuses)).toEqual({ 202: 500, 415: 500 });
    expect(busy).toBeLessThan(100);
    for (const id of queued) {
      const done = await waitForDeploy(slipway.url, id);
      expect(done).toMatchObject({ status: 'failed', stage: 'unpack', error: { code: 'corrupt_archive' } });
    }

    console.log(`aborted x1000 ${t1 - t0} ms, corrupt x1000 uploaded ${t2 - t1} ms (${busy} answered 429 first), 500 unpack failures settled ${Date.now() - t2} ms`);
    for (const child of [slipway.api, slipway.worker]) expect(child.exitCode).toBeNull();
    const api1 = await until(() => processUsage(slipway.api.pid!), (u) => u.fds <= api0.fds + 2, 15_000);
    expect(api1.fds).toBeLessThanOrEqual(api0.fds + 2);
    expect(await readdir(path.join(slipway.dataDir, 'uploads'))).toEqual([]);
    // The failed deploys' archives go just after their records say failed.
    expect(await until(dataFiles, (files) => files.length === files0.length, 10_000)).toEqual(files0);
    // Nothing leaked an upload slot: a good upload still goes through.
    const good = await upload(slipway.url, tgz, 'hello.tgz');
    expect((await waitForDeploy(slipway.url, good.body.deploy.id)).status).toBe('succeeded');
  });
});
