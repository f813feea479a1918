/**
 * The hostile-input suite (issue 7): archives built to escape, exhaust or confuse the unpacker, malformed
 * multipart, hostile names and versions, hostile JSON. Each must get the right status and a clear message,
 * write nothing outside its folder, leak no descriptor, and leave the running app serving.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, get, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz, tarOf, zeroBomb, zipOf, zipWithRawName, type Entry } from '../helpers/archives';
import { docker, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let livePort = 0;
const tried: Array<{ name: string; refused: boolean }> = [];
const escapes: string[] = [];

const pkg: Entry = { name: 'package.json', content: '{"name":"x","version":"1.0.0"}' };
const outside = () => {
  const target = path.join(tmpdir(), `slipway-escape-${randomBytes(4).toString('hex')}`);
  escapes.push(target);
  return target;
};
const fdCount = async () => (await readdir(`/proc/${slipway.api.pid}/fd`)).length;

/** Uploads and follows the deploy; `code` is the refusal expected at upload (4xx) or from the unpack. */
async function hostile(name: string, archive: Buffer, fileName: string, expected: { status?: number; code: string }, fields = { app: 'target', version: name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60) }) {
  const res = await upload(slipway.url, archive, fileName, fields);
  let code: string | undefined;
  let message = '';
  if (res.status === 202) {
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    code = done.status === 'failed' ? done.error?.code : undefined;
    message = done.error?.message ?? '';
  } else {
    code = res.body.error?.code;
    message = res.body.error?.message ?? '';
  }
  const refused = code === expected.code && (expected.status === undefined || res.status === expected.status);
  tried.push({ name, refused });
  expect({ name, status: expected.status ? res.status : 'queued', code }).toEqual({ name, status: expected.status ?? 'queued', code: expected.code });
  expect(message.length, name).toBeGreaterThan(10);
  expect(message, name).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(async () => {
  slipway = await startSlipway();
  const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'sentinel', version: '1.0.0' }), 'sentinel.tgz');
  livePort = (await waitForDeploy(slipway.url, res.body.deploy.id)).port!;
});
afterAll(async () => {
  const refused = tried.filter((t) => t.refused).length;
  console.log(`hostile cases: ${tried.length} tried, ${refused} refused`);
  await slipway?.stop();
});

describe('hostile archives', () => {
  it('refuses every escape, bomb and malformed archive', async () => {
    const fdsBefore = await fdCount();
    const dir = 'target';
    const cases: Array<[string, () => Promise<Buffer> | Buffer, string, { status?: number; code: string }]> = [
      ['absolute path', () => tarOf([pkg, { name: outside(), content: 'x' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['dot-dot', () => tarOf([pkg, { name: `../../../../../../..${outside()}`, content: 'x' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['symlink out and a file through it', () => { const t = outside(); return tarOf([pkg, { name: 'l', type: 'symlink', linkname: path.dirname(t) }, { name: `l/${path.basename(t)}`, content: 'x' }]); }, 'a.tgz', { code: 'unsafe_archive' }],
      ['relative symlink escape', () => tarOf([pkg, { name: 'a/b/l', type: 'symlink', linkname: '../../../..' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['sibling-prefix path', () => tarOf([pkg, { name: 'l', type: 'symlink', linkname: `../${dir}-evil/x` }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['hard link', () => tarOf([pkg, { name: 'h', type: 'link', linkname: 'package.json' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['character device', () => tarOf([pkg, { name: 'd', type: 'character-device' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['block device', () => tarOf([pkg, { name: 'd', type: 'block-device' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['FIFO', () => tarOf([pkg, { name: 'f', type: 'fifo' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['zip-slip', () => zipWithRawName('aa/evil.txt', '../evil.txt', 'x'), 'a.zip', { code: 'unsafe_archive' }],
      ['zip absolute', () => zipWithRawName('tmp/evil.txt', '/tmp/evil.tx', 'x'), 'a.zip', { code: 'unsafe_archive' }],
      ['zip symlink out', () => zipOf([pkg, { name: 'l', type: 'symlink', linkname: '../../../etc' }]), 'a.zip', { code: 'unsafe_archive' }],
      ['6 GiB zero bomb', () => zeroBomb(6), 'bomb.tgz', { code: 'archive_too_large' }],
      ['150k files', () => tarOf(Array.from({ length: 150_000 }, (_, i): Entry => ({ name: `f/${i}`, content: '' }))), 'many.tgz', { code: 'archive_too_large' }],
      ['very long name', () => tarOf([pkg, { name: `${'d/'.repeat(2100)}x`, content: 'x' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['over-long file name', () => tarOf([pkg, { name: `${'n'.repeat(300)}`, content: 'x' }]), 'a.tgz', { code: 'unsafe_archive' }],
      ['truncated gzip', async () => { const t = await tarOf([pkg, { name: 'r', content: randomBytes(100_000) }]); return t.subarray(0, t.length >> 1); }, 'a.tgz', { code: 'corrupt_archive' }],
      ['garbage after a gzip header', () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(4096)]), 'a.tgz', { code: 'corrupt_archive' }],
      ['not an archive', () => Buffer.from('#!/bin/sh\nrm -rf /\n'), 'a.tgz', { status: 415, code: 'unsupported_archive' }],
      ['an executable renamed', () => randomBytes(2048), 'a.tar', { status: 415, code: 'unsupported_archive' }],
      ['empty', () => Buffer.alloc(0), 'a.tgz', { status: 422, code: 'empty_archive' }],
      ['empty tar', () => tarOf([], false), 'a.tar', { status: 415, code: 'unsupported_archive' }],
    ];
    for (const [name, make, fileName, expected] of cases) await hostile(name, await make(), fileName, expected);

    for (const target of escapes) expect(existsSync(target), target).toBe(false);
    expect(existsSync(path.join(slipway.dataDir, 'cluster', 'evil.txt'))).toBe(false);
    expect(existsSync(path.join(slipway.dataDir, 'cluster', `${dir}-evil`))).toBe(false);
    expect((await readdir(path.join(slipway.dataDir, 'cluster', dir)).catch(() => [])).filter((n) => n !== '.')).toEqual([]);
    expect(await readdir(path.join(slipway.dataDir, 'uploads'))).toEqual([]);
    expect(await fdCount()).toBeLessThanOrEqual(fdsBefore + 5);
    expect((await get(`http://127.0.0.1:${livePort}/`)).text.trim()).toBe('sentinel 1.0.0');
  });
});

describe('hostile multipart', () => {
  const raw = (head: string, body: string) =>
    new Promise<{ status: number; code: string }>((resolve) => {
      const url = new URL(`${slipway.url}/api/deploys`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...slipway.auth, 'content-type': head, 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).error?.code ?? '' }));
      });
      req.on('error', () => resolve({ status: 0, code: 'connection' }));
      req.end(body);
    });

  it('answers 400 to malformed forms, without a file left', async () => {
    const b = 'xx';
    const part = (headers: string, content = 'data') => `--${b}\r\n${headers}\r\n\r\n${content}\r\n`;
    const cases: Array<[string, string, string]> = [
      ['empty field name', `multipart/form-data; boundary=${b}`, `${part('Content-Disposition: form-data; name=""; filename="a.tgz"')}--${b}--\r\n`],
      ['header flood', `multipart/form-data; boundary=${b}`, `${part(['Content-Disposition: form-data; name="archive"; filename="a.tgz"', ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`)].join('\r\n'))}--${b}--\r\n`],
      ['too many fields', `multipart/form-data; boundary=${b}`, `${Array.from({ length: 20 }, (_, i) => part(`Content-Disposition: form-data; name="f${i}"`)).join('')}--${b}--\r\n`],
      ['unterminated', `multipart/form-data; boundary=${b}`, part('Content-Disposition: form-data; name="archive"; filename="a.tgz"')],
      ['no boundary', 'multipart/form-data', 'whatever'],
      ['a field too long', `multipart/form-data; boundary=${b}`, `${part('Content-Disposition: form-data; name="app"', 'x'.repeat(5000))}--${b}--\r\n`],
      ['app given twice', `multipart/form-data; boundary=${b}`, `${part('Content-Disposition: form-data; name="app"', 'one')}${part('Content-Disposition: form-data; name="app"', 'two')}${part('Content-Disposition: form-data; name="archive"; filename="a.tgz"')}--${b}--\r\n`],
    ];
    for (const [name, head, body] of cases) {
      const res = await raw(head, body);
      tried.push({ name, refused: res.status === 400 });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
    }
    expect(await readdir(path.join(slipway.dataDir, 'uploads'))).toEqual([]);
  });
});

describe('hostile names and versions', () => {
  it('refuses them before anything is stored, and no app can take a base image\'s name', async () => {
    const archive = await tarOf([{ name: 'index.js', content: '' }]);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['A:B version', { app: 'target', version: 'A:B' }, 'invalid_version'],
      ['../x name', { app: '../x', version: '1' }, 'invalid_name'],
      ['../x version', { app: 'target', version: '../x' }, 'invalid_version'],
      ['unicode name', { app: 'ñandú', version: '1' }, 'invalid_name'],
      ['unicode version', { app: 'target', version: 'v１' }, 'invalid_version'],
      ['300-char name', { app: 'a'.repeat(300), version: '1' }, 'invalid_name'],
      ['300-char version', { app: 'target', version: '1'.repeat(300) }, 'invalid_version'],
      ['uppercase name', { app: 'Node', version: '1' }, 'invalid_name'],
      ['image reference as name', { app: 'node:20-slim', version: '1' }, 'invalid_name'],
      ['newline in name', { app: 'a\nb', version: '1' }, 'invalid_name'],
    ];
    for (const [name, fields, code] of cases) {
      const res = await upload(slipway.url, archive, 'a.tgz', fields);
      tried.push({ name, refused: res.status === 422 && res.body.error?.code === code });
      expect({ name, status: res.status, code: res.body.error?.code }).toEqual({ name, status: 422, code });
    }
    // "node" is a valid app name, but its image is slipway/node:…, never node:20-slim.
    const base = await docker.getImage('node:20-slim').inspect();
    const res = await upload(slipway.url, await tarOf([{ name: 'Dockerfile', content: 'FROM node:20-slim\nCMD ["node","-e","require(`http`).createServer((q,s)=>s.end(`n`)).listen(3000)"]\n' }]), 'n.tgz', { app: 'node', version: '20-slim' });
    expect(res.body.deploy?.image).toBe(`${slipway.prefix}node:20-slim`);
    await waitForDeploy(slipway.url, res.body.deploy.id);
    expect((await docker.getImage('node:20-slim').inspect()).Id).toBe(base.Id);
    tried.push({ name: 'app named node', refused: true });
  });
});

describe('hostile JSON', () => {
  it('answers 400 or 413, never 500', async () => {
    const send = (body: string) =>
      fetch(`${slipway.url}/api/apps/target`, { method: 'PUT', headers: { ...slipway.auth, 'content-type': 'application/json' }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string; message: string } } }));
    const cases: Array<[string, string, number]> = [
      ['huge body', JSON.stringify({ env: { A: 'x'.repeat(400_000) } }), 413],
      ['deep nesting', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 400],
      ['deep object', JSON.stringify({ env: JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) }), 400],
      ['wrong types', JSON.stringify({ env: 'A=B', port: '80', memoryMb: { $gt: 1 } }), 400],
      ['prototype pollution', '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}', 400],
      ['not JSON', '{"env": }', 400],
      ['a bare string', '"hello"', 400],
      ['null', 'null', 400],
    ];
    for (const [name, body, status] of cases) {
      const res = await send(body);
      tried.push({ name, refused: res.status === status });
      expect({ name, status: res.status }).toEqual({ name, status });
      expect(res.body.error?.message.length, name).toBeGreaterThan(5);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect((await call(slipway.url, 'GET', '/api/apps/sentinel')).status).toBe(200);
  });
});
