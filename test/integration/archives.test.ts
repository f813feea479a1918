/**
 * SPEC §2 with real uploads: every rule for names, versions and archives answers a clear error, and a
 * refused archive leaves nothing on disk, inside the data dir or out of it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, upload, waitForDeploy } from '../helpers/api';
import { fixtureEntries, fixtureTgz, tarOf, zipOf, zipWithRawName, type Entry } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
const MAX_UPLOAD_MB = 2;

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_MAX_UPLOAD_MB: String(MAX_UPLOAD_MB), SLIPWAY_MAX_UNPACKED_MB: '8', SLIPWAY_MAX_FILES: '200' } });
});
afterAll(async () => {
  await slipway?.stop();
});

const list = async (dir: string) => (await readdir(path.join(slipway.dataDir, dir)).catch(() => [] as string[])).sort();
const pkg = (name: string, version = '1.0.0'): Entry => ({ name: 'package.json', content: JSON.stringify({ name, version }) });

/** An upload refused before queueing: right status and code, and nothing stored. */
async function refusedAtUpload(archive: Buffer, fileName: string, fields: Record<string, string>, status: number, code: string) {
  const res = await upload(slipway.url, archive, fileName, fields);
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
  expect(res.body.error?.message.length).toBeGreaterThan(10);
  expect(await list('uploads')).toEqual([]);
  return res.body.error!;
}

/** An archive accepted for queueing whose unpack refuses it: failed with the code, nothing unpacked. */
async function refusedAtUnpack(archive: Buffer, fileName: string, app: string, code: string) {
  const res = await upload(slipway.url, archive, fileName, { app, version: '1' });
  expect(res.status).toBe(202);
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  expect({ status: done.status, stage: done.stage, code: done.error?.code }).toEqual({ status: 'failed', stage: 'unpack', code });
  expect(await list(`cluster/${app}`)).toEqual([]);
  return done.error!;
}

describe('names and versions', () => {
  it('takes them from the form fields first', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'other-9.9.9.tgz', { app: 'formapp', version: '7.1' });
    expect(res.status).toBe(202);
    expect(res.body.deploy).toMatchObject({ app: 'formapp', version: '7.1' });
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  });

  it('then from package.json, turning a scoped name into scope-name', async () => {
    const res = await upload(slipway.url, await tarOf([pkg('@acme/shop', '2.3.4'), { name: 'index.js', content: "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)" }]), 'x.tgz');
    expect(res.status).toBe(202);
    expect(res.body.deploy).toMatchObject({ app: 'acme-shop', version: '2.3.4' });
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  });

  it('then from the file name, app_version or app-version', async () => {
    const entries: Entry[] = [{ name: 'Dockerfile', content: 'FROM node:20-slim\nCMD ["node","-e","require(`http`).createServer((q,s)=>s.end(`ok`)).listen(3000)"]\n' }];
    const underscore = await upload(slipway.url, await tarOf(entries), 'shop_1.4.2.tar.gz');
    expect(underscore.body.deploy).toMatchObject({ app: 'shop', version: '1.4.2' });
    const dash = await upload(slipway.url, await zipOf(entries), 'my-app-2.0.0-rc.1.zip');
    expect(dash.body.deploy).toMatchObject({ app: 'my-app', version: '2.0.0-rc.1' });
    for (const res of [underscore, dash]) expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  });

  it('names a gzipped tar uploaded as <app>_<version>.gz or <app>-<version>.gz (SPEC §2), sniffing it by content', async () => {
    const entries: Entry[] = [{ name: 'Dockerfile', content: 'FROM node:20-slim\nCMD ["node","-e","require(`http`).createServer((q,s)=>s.end(`gz`)).listen(3000)"]\n' }];
    const underscore = await upload(slipway.url, await tarOf(entries), 'frontend_1.2.0.gz');
    expect(underscore.status).toBe(202);
    expect(underscore.body.deploy).toMatchObject({ app: 'frontend', version: '1.2.0' });
    const dash = await upload(slipway.url, await tarOf(entries), 'admin-web-2.0.1.gz');
    expect(dash.body.deploy).toMatchObject({ app: 'admin-web', version: '2.0.1' });
    for (const res of [underscore, dash]) expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  });

  it('refuses what is missing or invalid with 422, storing nothing', async () => {
    const noManifest = await tarOf([{ name: 'index.js', content: '' }]);
    await refusedAtUpload(noManifest, 'archive.tgz', {}, 422, 'name_required');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'nostore' }, 422, 'version_required');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'Shop', version: '1' }, 422, 'invalid_name');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'node:20', version: '1' }, 422, 'invalid_name');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: '../x', version: '1' }, 422, 'invalid_name');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'a'.repeat(64), version: '1' }, 422, 'invalid_name');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'nostore', version: 'A:B' }, 422, 'invalid_version');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'nostore', version: '../../x' }, 422, 'invalid_version');
    await refusedAtUpload(noManifest, 'archive.tgz', { app: 'nostore', version: 'x'.repeat(129) }, 422, 'invalid_version');
    await refusedAtUpload(await tarOf([pkg('über-app')]), 'a.tgz', {}, 422, 'invalid_name');
    await refusedAtUpload(await tarOf([{ name: 'package.json', content: '{not json' }]), 'a.tgz', {}, 422, 'corrupt_archive');
    expect(await list('archives')).not.toContain('nostore');
    expect(await list('cluster')).not.toContain('nostore');
  });
});

describe('archive formats', () => {
  it('deploys a plain tar and a zip, with a single top folder as the root', async () => {
    for (const [archive, name] of [
      [await tarOf(await fixtureEntries('hello', { name: 'plain', version: '1.0.0' }, 'plain-src'), false), 'plain.tar'],
      [await zipOf(await fixtureEntries('hello', { name: 'zipped', version: '1.0.0' }, 'zipped-src')), 'zipped.zip'],
    ] as const) {
      const res = await upload(slipway.url, archive, name);
      expect(res.status).toBe(202);
      const done = await waitForDeploy(slipway.url, res.body.deploy.id);
      expect(done.status).toBe('succeeded');
      expect((await get(`http://127.0.0.1:${done.port}/`)).text.trim()).toBe(`${res.body.deploy.app} 1.0.0`);
    }
  });

  it('keeps a symbolic link that stays inside the app folder', async () => {
    const entries = [...(await fixtureEntries('hello', { name: 'linked', version: '1.0.0' })), { name: 'current', type: 'symlink', linkname: 'server.js' } as Entry];
    const res = await upload(slipway.url, await tarOf(entries), 'linked.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect(await list('cluster/linked/1.0.0')).toContain('current');
  });

  it('answers 415 for anything that is not tar, gzip or zip, and 422 for an empty file', async () => {
    await refusedAtUpload(Buffer.from('just some text, not an archive\n'), 'notes.tgz', { app: 'x', version: '1' }, 415, 'unsupported_archive');
    await refusedAtUpload(Buffer.from('%PDF-1.7 ...'), 'doc.pdf', { app: 'x', version: '1' }, 415, 'unsupported_archive');
    await refusedAtUpload(Buffer.alloc(0), 'empty.tgz', { app: 'x', version: '1' }, 422, 'empty_archive');
  });
});

describe('hostile archives (SPEC §2): the whole archive is refused, nothing of it stays', () => {
  const outside = () => path.join(tmpdir(), `slipway-escape-${randomBytes(4).toString('hex')}`);

  it('refuses absolute paths and .. (tar and zip-slip)', async () => {
    const target = outside();
    await refusedAtUnpack(await tarOf([pkg('a'), { name: target, content: 'pwned' }]), 'abs.tgz', 'abs', 'unsafe_archive');
    await refusedAtUnpack(await tarOf([pkg('a'), { name: `../../../../../../..${target}`, content: 'pwned' }]), 'dots.tgz', 'dots', 'unsafe_archive');
    await refusedAtUnpack(await zipWithRawName('aa/evil.txt', '../evil.txt', 'pwned'), 'slip.zip', 'zipslip', 'unsafe_archive');
    expect(existsSync(target)).toBe(false);
    expect(existsSync(path.join(slipway.dataDir, 'cluster', 'evil.txt'))).toBe(false);
  });

  it('refuses links leaving the folder, and a file written through one', async () => {
    const target = outside();
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'etc', type: 'symlink', linkname: '/etc' }]), 'l1.tgz', 'linkabs', 'unsafe_archive');
    await refusedAtUnpack(
      await tarOf([pkg('a'), { name: 'out', type: 'symlink', linkname: `../../../../../../..${path.dirname(target)}` }, { name: `out/${path.basename(target)}`, content: 'pwned' }]),
      'l2.tgz',
      'linkrel',
      'unsafe_archive',
    );
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'x', type: 'symlink', linkname: '../linkrel-evil/file' }]), 'l3.tgz', 'linksib', 'unsafe_archive');
    await refusedAtUnpack(await zipOf([pkg('a'), { name: 'up', type: 'symlink', linkname: '../../..' }]), 'l4.zip', 'ziplink', 'unsafe_archive');
    expect(existsSync(target)).toBe(false);
  });

  it('refuses hard links, devices and FIFOs', async () => {
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'hard', type: 'link', linkname: 'package.json' }]), 'h.tgz', 'hard', 'unsafe_archive');
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'null', type: 'character-device' }]), 'c.tgz', 'chardev', 'unsafe_archive');
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'disk', type: 'block-device' }]), 'b.tgz', 'blockdev', 'unsafe_archive');
    await refusedAtUnpack(await tarOf([pkg('a'), { name: 'pipe', type: 'fifo' }]), 'f.tgz', 'fifo', 'unsafe_archive');
  });

  it('stops archive bombs at the size and file-count caps', async () => {
    const bomb = gzipSync(await tarOf([pkg('a'), { name: 'zeros', content: Buffer.alloc(64 * 1024 * 1024) }], false), { level: 9 });
    expect(bomb.length).toBeLessThan(MAX_UPLOAD_MB * 1024 * 1024);
    const error = await refusedAtUnpack(bomb, 'bomb.tgz', 'bomb', 'archive_too_large');
    expect(error.message).toMatch(/SLIPWAY_MAX_UNPACKED_MB/);
    const many = Array.from({ length: 300 }, (_, i): Entry => ({ name: `f${i}.txt`, content: 'x' }));
    expect((await refusedAtUnpack(await tarOf(many), 'many.tgz', 'many', 'archive_too_large')).message).toMatch(/SLIPWAY_MAX_FILES/);
  });

  it('fails a truncated gzip as corrupt, at upload when it must read package.json and at unpack otherwise', async () => {
    const whole = await tarOf([pkg('trunc'), { name: 'big.bin', content: randomBytes(200_000) }]);
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    await refusedAtUnpack(cut, 'cut.tgz', 'truncated', 'corrupt_archive');
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(5000)]);
    await refusedAtUpload(garbage, 'garbage.tgz', {}, 422, 'corrupt_archive');
  });
});

describe('upload limits', () => {
  it('answers 413 above SLIPWAY_MAX_UPLOAD_MB, announced or not, and keeps no partial file', async () => {
    const big = Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes((MAX_UPLOAD_MB + 1) * 1024 * 1024)]);
    for (const chunked of [false, true]) {
      const res = await rawUpload(big, { chunked });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('SLIPWAY_MAX_UPLOAD_MB') });
    }
    for (let i = 0; i < 40 && (await list('uploads')).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await list('uploads')).toEqual([]);
  });

  it('refuses a request without the archive field, or not multipart', async () => {
    const form = new FormData();
    form.append('app', 'x');
    let res = await fetch(`${slipway.url}/api/deploys`, { method: 'POST', body: form, headers: slipway.auth });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('archive_required');
    res = await fetch(`${slipway.url}/api/deploys`, { method: 'POST', body: JSON.stringify({ archive: 'x' }), headers: { ...slipway.auth, 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    const twoFiles = new FormData();
    twoFiles.append('archive', new Blob(['a']), 'a.tgz');
    twoFiles.append('archive', new Blob(['b']), 'b.tgz');
    res = await fetch(`${slipway.url}/api/deploys`, { method: 'POST', body: twoFiles, headers: slipway.auth });
    expect(res.status).toBe(400);
    expect(await list('uploads')).toEqual([]);
  });

  it('removes the partial file of an aborted upload', async () => {
    const res = await rawUpload(randomBytes(1024 * 1024), { abortAfterBytes: 256 * 1024 });
    expect(res.status).toBe(0);
    for (let i = 0; i < 40 && (await list('uploads')).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await list('uploads')).toEqual([]);
    expect((await get(`${slipway.url}/healthz`)).status).toBe(200);
  });
});

/**
 * A multipart upload written by hand: Slipway may answer (413) and close before the body is sent, which
 * fetch reports as EPIPE; here the answer is read whatever happens to the rest of the body.
 */
function rawUpload(content: Buffer, opts: { chunked?: boolean; abortAfterBytes?: number }): Promise<{ status: number; body: string }> {
  const boundary = 'slipwayboundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(`${slipway.url}/api/deploys`);
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...slipway.auth, 'content-type': `multipart/form-data; boundary=${boundary}` };
    if (!opts.chunked) headers['content-length'] = String(head.length + content.length + tail.length);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent: false });
    let settled = false;
    const settle = (value: { status: number; body: string }) => {
      if (!settled) resolve(value);
      settled = true;
    };
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => settle({ status: res.statusCode ?? 0, body }));
      res.on('error', () => settle({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => setTimeout(() => settle({ status: 0, body: '' }), 500));
    req.write(head);
    if (opts.abortAfterBytes) {
      req.write(content.subarray(0, opts.abortAfterBytes));
      setTimeout(() => {
        req.destroy();
        settle({ status: 0, body: '' });
      }, 300);
      return;
    }
    (async () => {
      for (let i = 0; i < content.length && !req.destroyed; i += 64 * 1024) {
        if (!req.write(content.subarray(i, i + 64 * 1024))) await new Promise((r) => req.once('drain', r));
      }
      if (!req.destroyed) req.end(tail);
    })().catch(() => {});
  });
}
