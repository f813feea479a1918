/**
 * Links judged on disk (issue 12, item 2; SPEC §2): a chain of symbolic links, each lexically inside the
 * app's folder, that together reach `/` must not get an archive through the unpack, and the build must
 * never read an input (package.json, Dockerfile…) from the host through one. Refused archives leave
 * nothing on disk, neither under the version's folder nor where the links pointed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, upload, waitForDeploy } from '../helpers/api';
import { fixtureEntries, tarOf, zipOf, type Entry } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
/** Outside the data dir, where an escaping chain points: a planted manifest and Dockerfile wait there. */
const planted = path.join(tmpdir(), `slipway-links-${randomBytes(4).toString('hex')}`);
const plantedManifest = JSON.stringify({ name: 'planted', version: '6.6.6', scripts: { start: `node -e "require('http').createServer((q,s)=>s.end('planted')).listen(process.env.PORT||3000)"` } });
const plantedDockerfile = `FROM node:20-slim\nCMD ["node","-e","require('http').createServer((q,s)=>s.end('planted')).listen(3000)"]\n`;

/** `s → .`, then `uN → u(N-1)/..`: each target normalises to `.`, but on disk every link climbs one more folder. */
function chain(depth: number): Entry[] {
  const links: Entry[] = [{ name: 's', type: 'symlink', linkname: '.' }];
  for (let i = 1; i <= depth; i++) links.push({ name: `u${i}`, type: 'symlink', linkname: `${i === 1 ? 's' : `u${i - 1}`}/..` });
  return links;
}
const DEPTH = 12;
/** Through the chain to the planted folder: `u12/tmp/slipway-links-…`, lexically inside. */
const viaChain = (rest = '') => `u${DEPTH}${planted}${rest}`;
const host: Entry = { name: 'host', type: 'symlink', linkname: viaChain() };

async function snapshot(): Promise<string> {
  const info = await stat(planted);
  const names = (await readdir(planted, { recursive: true })).sort();
  const contents = await Promise.all(names.map((n) => readFile(path.join(planted, n), 'utf8').catch(() => '<dir>')));
  return JSON.stringify({ mode: info.mode, mtime: info.mtimeMs, names, contents });
}

beforeAll(async () => {
  await mkdir(planted, { mode: 0o700 });
  await writeFile(path.join(planted, 'package.json'), plantedManifest);
  await writeFile(path.join(planted, 'Dockerfile'), plantedDockerfile);
  slipway = await startSlipway();
});
afterAll(async () => {
  await slipway?.stop();
  await rm(planted, { recursive: true, force: true });
});

describe('chained links', () => {
  const cases: Array<[string, () => Promise<Buffer>, string]> = [
    ['tar: package.json through a 12-link chain', () => tarOf([...chain(DEPTH), host, { name: 'package.json', type: 'symlink', linkname: 'host/package.json' }]), 'a.tgz'],
    ['tar: links created after the entry that uses them', () => tarOf([{ name: 'package.json', type: 'symlink', linkname: 'host/package.json' }, host, ...chain(DEPTH).reverse()]), 'a.tgz'],
    ['tar: Dockerfile through the chain', () => tarOf([...chain(DEPTH), { name: 'Dockerfile', type: 'symlink', linkname: viaChain('/Dockerfile') }]), 'a.tar'],
    // Each link is created before its target exists (so no check at creation time can see the chain), then a folder lands on it.
    ['tar: a directory entry landing on the chain', () => tarOf([host, ...chain(DEPTH).reverse(), { name: 'host/', type: 'directory', mode: 0o777 }, { name: 'index.js', content: '' }]), 'a.tgz'],
    ['tar: a directory through the chain', () => tarOf([host, ...chain(DEPTH).reverse(), { name: 'host/made/', type: 'directory' }, { name: `${viaChain('/made2')}/`, type: 'directory' }]), 'a.tgz'],
    ['tar: a file written through the chain', () => tarOf([host, ...chain(DEPTH).reverse(), { name: 'host/written.txt', content: 'x' }]), 'a.tgz'],
    ['tar: the root of a single top folder climbed by ..', () => tarOf([{ name: 'top/', type: 'directory' }, { name: 'top/index.js', content: '' }, { name: 'top/up', type: 'symlink', linkname: '..' }]), 'a.tgz'],
    ['zip: package.json through a 12-link chain', () => zipOf([...chain(DEPTH), host, { name: 'package.json', type: 'symlink', linkname: 'host/package.json' }]), 'a.zip'],
    ['zip: links created after the entry that uses them', () => zipOf([{ name: 'Dockerfile', type: 'symlink', linkname: 'host/Dockerfile' }, host, ...chain(DEPTH).reverse()]), 'a.zip'],
    ['zip: a directory through the chain', () => zipOf([host, ...chain(DEPTH).reverse(), { name: 'host/made/', type: 'directory' }, { name: 'index.js', content: '' }]), 'a.zip'],
    ['zip: a directory entry landing on the chain', () => zipOf([host, ...chain(DEPTH).reverse(), { name: 'host/', type: 'directory' }, { name: 'index.js', content: '' }]), 'a.zip'],
  ];

  it.each(cases.map((c, i) => [i, ...c] as const))('#%i %s: refused unsafe_archive, nothing left on disk', async (i, name, make, fileName) => {
    const before = await snapshot();
    const version = `chain-${i}`;
    const res = await upload(slipway.url, await make(), fileName, { app: 'target', version });
    expect(res.status, name).toBe(202);
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect({ status: done.status, code: done.error?.code }, `${name}: ${done.error?.message}`).toEqual({ status: 'failed', code: 'unsafe_archive' });
    expect(done.error?.message).toMatch(/link|outside/i);

    expect(await snapshot(), `${name}: the planted folder changed`).toBe(before);
    for (const made of ['made', 'made2', 'written.txt']) expect(existsSync(path.join(planted, made)), made).toBe(false);
    const appDir = path.join(slipway.dataDir, 'cluster', 'target');
    expect(existsSync(path.join(appDir, version)), `${name}: the version's folder stayed`).toBe(false);
    expect((await readdir(appDir).catch(() => [] as string[])).filter((n) => n.startsWith('.unpack-')), name).toEqual([]);
  });
});

describe('links that stay inside', () => {
  it('are kept, read by the build through the link, and the app deploys', async () => {
    const entries = await fixtureEntries('hello', { name: 'inside', version: '1.0.0' });
    const manifest = entries.find((e) => e.name === 'package.json')!;
    // A chain as deep as the hostile one, and a link that exists before its target: both end inside.
    const inner: Entry[] = [{ name: 'c0', type: 'symlink', linkname: '.' }];
    for (let i = 1; i <= DEPTH; i++) inner.push({ name: `c${i}`, type: 'symlink', linkname: `c${i - 1}` });
    const archive = await tarOf(
      ([
        { name: 'early', type: 'symlink', linkname: 'config/package.json' },
        ...entries.filter((e) => e !== manifest),
        { name: 'config/', type: 'directory' },
        { name: 'config/package.json', content: manifest.content },
        { name: 'package.json', type: 'symlink', linkname: `c${DEPTH}/c${DEPTH}/config/package.json` },
        ...inner,
        { name: 'deep/a/b/up', type: 'symlink', linkname: '../../..' },
      ] as Entry[]).map((e) => ({ ...e, name: `inside/${e.name}` })),
    );
    const res = await upload(slipway.url, archive, 'inside.tgz', { app: 'inside', version: '1.0.0' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect({ status: done.status, error: done.error }).toEqual({ status: 'succeeded', error: undefined });
    expect((await get(`http://127.0.0.1:${done.port}/`)).text.trim()).toBe('inside 1.0.0');
    const tree = path.join(slipway.dataDir, 'cluster', 'inside', '1.0.0');
    expect(JSON.parse(await readFile(path.join(tree, 'package.json'), 'utf8')).name).toBe('inside');
    expect(JSON.parse(await readFile(path.join(tree, 'deep/a/b/up/early'), 'utf8')).name).toBe('inside');
  });
});
