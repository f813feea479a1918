/**
 * The build's reading of an unpacked tree (issue 12, item 2): a tree with a link out of it (as an older
 * unpack, or a hand-made folder, could leave) must never make the build read, probe or pack the host's files.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { packContext } from '../src/stages/build';
import { startScript } from '../src/stages/recipe';
import { checkLinksOnDisk, existsInside, readInside, readManifest } from '../src/stages/tree';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** An app folder and, beside it, a folder standing for the host with a planted manifest. */
async function tree(): Promise<{ app: string; host: string }> {
  const base = await mkdtemp(path.join(tmpdir(), 'slipway-tree-'));
  made.push(base);
  const app = path.join(base, 'app');
  const host = path.join(base, 'host');
  await mkdir(app);
  await mkdir(host);
  await writeFile(path.join(host, 'package.json'), '{"name":"planted","scripts":{"start":"planted"}}');
  await writeFile(path.join(host, 'Dockerfile'), 'FROM planted\n');
  return { app, host };
}

/** `s → .`, `u1 → s/..`, … : lexically inside, physically one folder up per link. */
async function chain(app: string, depth: number): Promise<void> {
  await symlink('.', path.join(app, 's'));
  for (let i = 1; i <= depth; i++) await symlink(`${i === 1 ? 's' : `u${i - 1}`}/..`, path.join(app, `u${i}`));
}

describe('checkLinksOnDisk', () => {
  it('refuses a chain that climbs out, and keeps links that stay inside', async () => {
    const { app } = await tree();
    await mkdir(path.join(app, 'lib/v1'), { recursive: true });
    await symlink('v1', path.join(app, 'lib/current'));
    await symlink('lib/current/../../lib', path.join(app, 'again'));
    await expect(checkLinksOnDisk(app)).resolves.toBeUndefined();
    await symlink('..', path.join(app, 'lib/v1/up'));
    await expect(checkLinksOnDisk(app)).resolves.toBeUndefined();
    await chain(app, 1);
    await expect(checkLinksOnDisk(app)).rejects.toMatchObject({ code: 'unsafe_archive', message: expect.stringMatching(/"u1" → "s\/\.\." leads outside/) });
  });
});

describe('the build reads its inputs inside the tree only', () => {
  it('refuses a package.json, Dockerfile, lockfile, .dockerignore or Makefile that leads out through a chain', async () => {
    const { app, host } = await tree();
    await chain(app, 12);
    const out = `u12${host}`;
    await symlink(`${out}/package.json`, path.join(app, 'package.json'));
    for (const name of ['Dockerfile', 'package-lock.json', '.dockerignore', 'Makefile']) await symlink(`${out}/Dockerfile`, path.join(app, name));
    for (const name of ['package.json', 'Dockerfile', 'package-lock.json', '.dockerignore', 'Makefile']) {
      await expect(readInside(app, name), name).rejects.toMatchObject({ code: 'unsafe_archive', message: expect.stringContaining(`"${name}" is a link that leads outside`) });
    }
    await expect(readManifest(app)).rejects.toMatchObject({ code: 'unsafe_archive' });
    await expect(startScript(app)).rejects.toMatchObject({ code: 'unsafe_archive' });
    await expect(packContext(app, 'FROM x\n', 'node')).rejects.toMatchObject({ code: 'unsafe_archive' });
  });

  it('refuses an absolute link out and a path that climbs out, and never probes the host for main', async () => {
    const { app, host } = await tree();
    await symlink(path.join(host, 'package.json'), path.join(app, 'package.json'));
    await expect(readInside(app, 'package.json')).rejects.toMatchObject({ code: 'unsafe_archive' });
    await expect(readInside(app, '../host/package.json')).rejects.toMatchObject({ code: 'unsafe_archive' });
    await rm(path.join(app, 'package.json'));
    // main names a file of the host: not found, so nothing to start, rather than `node ../host/Dockerfile`.
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ main: '../host/Dockerfile' }));
    await expect(existsInside(app, '../host/Dockerfile')).resolves.toBe(false);
    await expect(startScript(app)).rejects.toMatchObject({ code: 'build_failed' });
  });

  it('reads through links that stay inside, and answers null for missing or dangling inputs', async () => {
    const { app } = await tree();
    await mkdir(path.join(app, 'config'));
    await writeFile(path.join(app, 'config/package.json'), '{"name":"inside","scripts":{"start":"node ."}}');
    await symlink('.', path.join(app, 'c0'));
    await symlink('c0', path.join(app, 'c1'));
    await symlink('c1/c1/config/package.json', path.join(app, 'package.json'));
    await symlink('nowhere', path.join(app, 'Makefile'));
    expect((await readManifest(app))?.name).toBe('inside');
    expect(await readInside(app, 'Makefile')).toBeNull();
    expect(await readInside(app, 'Dockerfile')).toBeNull();
    expect(await readInside(app, 'config')).toBeNull();
  });
});

describe('the build context', () => {
  it('packs a link as a link, never the host file it names', async () => {
    const { app, host } = await tree();
    await writeFile(path.join(app, 'index.js'), '');
    await symlink(path.join(host, 'package.json'), path.join(app, 'stolen.json'));
    const entries = new Map<string, { type: string; linkname?: string | null; body: string }>();
    const extract = tarStream.extract();
    extract.on('entry', (header, stream, next) => {
      let body = '';
      stream.on('data', (c: unknown) => (body += String(c)));
      stream.on('end', () => {
        entries.set(header.name, { type: header.type ?? 'file', linkname: header.linkname, body });
        next();
      });
    });
    const done = new Promise<void>((resolve, reject) => extract.on('finish', () => resolve()).on('error', reject));
    (await packContext(app, 'FROM x\n', 'node')).pipe(extract);
    await done;
    expect(entries.get('stolen.json')).toMatchObject({ type: 'symlink', linkname: path.join(host, 'package.json'), body: '' });
    expect([...entries.values()].some((e) => e.body.includes('planted'))).toBe(false);
  });
});
