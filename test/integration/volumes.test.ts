/**
 * Volumes (issue 16, SPEC §3 "Volumes", §4): a counter kept in a volume keeps counting across a new
 * version, a rollback, an automatic rollback and a restart; a volume downloads as a .tar.gz and restores
 * from one (the app stopped meanwhile); deleting an app keeps its volumes unless asked; `switch:
 * "stop-first"` stops the old version first and brings it back when the new one fails.
 */
import { gunzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deploy } from '@slipway/contracts/deploy';
import { authHeaders, call, readSse, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { tarOf } from '../helpers/archives';
import { docker, printProblemsOnFailure, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
printProblemsOnFailure(() => slipway);

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_WATCH_S: '10' } });
});
afterAll(async () => {
  await slipway?.stop();
});

/** A visit counter in /data/count; `/crash` makes it exit once it is live (the automatic rollback's cue). */
function counter(version: string, opts: { crashAtStart?: boolean } = {}) {
  const server = `
const fs = require('node:fs');
${opts.crashAtStart ? "console.error('fatal: no database'); process.exit(3);" : ''}
require('node:http').createServer((q, s) => {
  if (q.url === '/health') return s.end('ok');
  if (q.url === '/crash') { s.end('crashing'); setTimeout(() => process.exit(1), 50); return; }
  let n = 0;
  try { n = Number(fs.readFileSync('/data/count', 'utf8')); } catch {}
  fs.writeFileSync('/data/count', String(++n));
  s.end('${version} ' + n);
}).listen(process.env.PORT);
`;
  return tarOf([
    { name: 'package.json', content: JSON.stringify({ name: 'counter', version, scripts: { start: 'node server.js' } }) },
    { name: 'server.js', content: server },
  ]);
}

async function deployed(archive: Buffer): Promise<Deploy> {
  const res = await upload(slipway.url, archive, 'counter.tgz');
  expect(res.status).toBe(202);
  return waitForDeploy(slipway.url, res.body.deploy.id);
}

/** One visit through the gateway: `<version> <count>`. */
async function visit(): Promise<string> {
  return (await viaGateway(slipway.gatewayUrl, 'counter.localhost')).text.trim();
}

async function volumes() {
  return (await call(slipway.url, 'GET', '/api/apps/counter/volumes')).body.volumes as Array<{ name: string; path: string; bytes: number | null }>;
}

async function download(name: string): Promise<Buffer> {
  const res = await fetch(`${slipway.url}/api/apps/counter/volumes/${name}/archive`, { headers: authHeaders(slipway.url), signal: AbortSignal.timeout(60_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/gzip');
  return Buffer.from(await res.arrayBuffer());
}

async function restore(name: string, archive: Buffer) {
  const form = new FormData();
  form.append('archive', new Blob([new Uint8Array(archive)]), `${name}.tar.gz`);
  const res = await fetch(`${slipway.url}/api/apps/counter/volumes/${name}/archive`, { method: 'PUT', body: form, headers: authHeaders(slipway.url), signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: (await res.json()) as { volume?: { name: string; bytes: number | null }; error?: { code: string } } };
}

/** The files of a volume archive: path → content. */
async function filesOf(gz: Buffer): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') files[header.name] = Buffer.concat(chunks).toString();
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => extract.on('finish', () => resolve()).on('error', reject));
  extract.end(gunzipSync(gz));
  await done;
  return files;
}

describe('volumes', () => {
  it('refuses paths that are not absolute, under the kernel views, or would share a volume', async () => {
    for (const volumes of [[{ path: 'data' }], [{ path: '/proc/x' }], [{ path: '/data/../etc' }], [{ path: '/' }], [{ path: '/a-b' }, { path: '/a/b' }]]) {
      const res = await call(slipway.url, 'PUT', '/api/apps/counter', { volumes });
      expect(res.status, JSON.stringify(volumes)).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
    }
    expect((await call(slipway.url, 'GET', '/api/apps/counter')).status).toBe(404);
  });

  it('keeps a counter across a new version, a rollback, a restart and an automatic rollback', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/counter', { volumes: [{ path: '/data' }], healthPath: '/health' })).status).toBe(201);
    expect((await deployed(await counter('1.0.0'))).status).toBe('succeeded');
    expect([await visit(), await visit(), await visit()]).toEqual(['1.0.0 1', '1.0.0 2', '1.0.0 3']);

    expect((await deployed(await counter('2.0.0'))).status).toBe('succeeded');
    expect(await visit()).toBe('2.0.0 4');

    const rollback = await call(slipway.url, 'POST', '/api/apps/counter/rollback', { version: '1.0.0' });
    expect((await waitForDeploy(slipway.url, rollback.body.deploy.id)).status).toBe('succeeded');
    expect(await visit()).toBe('1.0.0 5');

    const restart = await call(slipway.url, 'POST', '/api/apps/counter/restart');
    expect((await waitForDeploy(slipway.url, restart.body.deploy.id)).status).toBe('succeeded');
    expect(await visit()).toBe('1.0.0 6');

    // A version that dies once live is rolled back by the watch: the files are still there for the one before.
    const flaky = await deployed(await counter('3.0.0'));
    expect(flaky.status).toBe('succeeded');
    expect(await visit()).toBe('3.0.0 7');
    await fetch(`http://127.0.0.1:${flaky.port}/crash`);
    let record = flaky;
    for (let i = 0; i < 100 && !record.rolledBack; i++) {
      await new Promise((r) => setTimeout(r, 200));
      record = (await call(slipway.url, 'GET', `/api/deploys/${flaky.id}`)).body.deploy;
    }
    expect(record.rolledBack?.to).toBe('1.0.0');
    expect((await waitForDeploy(slipway.url, record.rolledBack!.by)).status).toBe('succeeded');
    expect(await visit()).toBe('1.0.0 8');

    // A named volume, labelled, mounted where the settings say; never a bind of a host folder.
    const [volume] = await volumes();
    expect(volume).toMatchObject({ path: '/data', name: expect.stringMatching(/^slipway-counter-data(-|$)/) });
    const [container] = await docker.listContainers({ filters: { label: [`io.slipway.app=counter`, `io.slipway.instance=${slipway.instance}`] } });
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: volume!.name, Destination: '/data', RW: true })]);
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect((await docker.getVolume(volume!.name).inspect()).Labels).toMatchObject({ 'io.slipway.app': 'counter', 'io.slipway.instance': slipway.instance });
  });

  it('downloads a volume, keeps it when the app is deleted, and restores it after a delete with volumes=true', async () => {
    const [volume] = await volumes();
    const first = await download(volume!.name);
    expect(await filesOf(first)).toEqual({ './count': '8' });

    // Deleted without volumes=true: an app of the same name finds its files again.
    expect((await call(slipway.url, 'DELETE', '/api/apps/counter?confirm=counter')).status).toBe(200);
    expect((await docker.getVolume(volume!.name).inspect()).Name).toBe(volume!.name);
    await call(slipway.url, 'PUT', '/api/apps/counter', { volumes: [{ path: '/data' }], healthPath: '/health' });
    expect((await deployed(await counter('4.0.0'))).status).toBe('succeeded');
    expect(await visit()).toBe('4.0.0 9');

    // Deleted with volumes=true: the files are gone, and the download brings them back.
    expect((await call(slipway.url, 'DELETE', '/api/apps/counter?confirm=counter&volumes=true')).status).toBe(200);
    await expect(docker.getVolume(volume!.name).inspect()).rejects.toThrow(/no such volume/i);
    await call(slipway.url, 'PUT', '/api/apps/counter', { volumes: [{ path: '/data' }], healthPath: '/health' });
    expect((await deployed(await counter('4.0.0'))).status).toBe('succeeded');
    expect(await visit()).toBe('4.0.0 1');

    // A broken upload is refused before anything is emptied.
    for (const broken of [Buffer.from('not an archive'), first.subarray(0, Math.floor(first.length / 2))]) {
      expect(await restore(volume!.name, broken)).toMatchObject({ status: 422, body: { error: { code: 'corrupt_archive' } } });
    }
    expect(await visit()).toBe('4.0.0 2');

    const restored = await restore(volume!.name, first);
    expect(restored.status).toBe(200);
    expect(restored.body.volume).toMatchObject({ name: volume!.name, bytes: expect.any(Number) });
    // The app was stopped for the restore and runs again, on the restored files only.
    expect(await filesOf(await download(volume!.name))).toEqual({ './count': '8' });
    expect(await visit()).toBe('4.0.0 9');
    const { body } = await call(slipway.url, 'GET', '/api/apps/counter');
    expect(body.app.current).toMatchObject({ version: '4.0.0', status: 'running' });
  });

  it('answers 404 for a volume the app does not have, and 403 to tokens below admin', async () => {
    const res = await restore('slipway-counter-nothing', Buffer.from('x'));
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'volume_not_found' } } });
    const [volume] = await volumes();
    for (const scope of ['read', 'deploy']) {
      const made = await call(slipway.url, 'POST', '/api/tokens', { name: `volumes-${scope}`, scope });
      expect(made.status).toBe(201);
      const headers = { authorization: `Bearer ${made.body.token}` };
      expect((await fetch(`${slipway.url}/api/apps/counter/volumes`, { headers })).status).toBe(200);
      const got = await fetch(`${slipway.url}/api/apps/counter/volumes/${volume!.name}/archive`, { headers });
      expect(got.status, scope).toBe(403);
      const put = await fetch(`${slipway.url}/api/apps/counter/volumes/${volume!.name}/archive`, { method: 'PUT', headers, body: new FormData() });
      expect(put.status, scope).toBe(403);
    }
  });
});

describe('switch: "stop-first"', () => {
  it('stops the old version before the new one starts, and brings it back when the new one fails', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/counter', { switch: 'stop-first' })).status).toBe(200);
    const next = await deployed(await counter('5.0.0'));
    expect(next.status).toBe('succeeded');
    const log = (await readSse(`${slipway.url}/api/deploys/${next.id}/events`)).filter((e) => e.event === 'log').map((e) => e.data.line).join('\n');
    expect(log).toMatch(/Stopped 4\.0\.0 first \(switch: stop-first\)/);
    expect(await visit()).toBe('5.0.0 10');

    const broken = await deployed(await counter('6.0.0', { crashAtStart: true }));
    expect(broken).toMatchObject({ status: 'failed', error: { code: 'unhealthy' } });
    expect(await visit()).toBe('5.0.0 11');
    const ours = await docker.listContainers({ all: true, filters: { label: [`io.slipway.app=counter`, `io.slipway.instance=${slipway.instance}`] } });
    expect(ours.map((c) => [c.Labels['io.slipway.version'], c.State])).toEqual([['5.0.0', 'running']]);
  });
});
