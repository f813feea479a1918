/**
 * `slipway deploy <folder>` packs the folder as a .tar.gz, honouring .dockerignore and .slipwayignore
 * (node_modules and .git are left out unless the app has its own Dockerfile and ignore file), and never
 * follows a symbolic link: links that point outside the folder are skipped (Slipway would refuse them).
 */
import { createWriteStream } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import dockerignore from '@balena/dockerignore';
import * as tarFs from 'tar-fs';

const ALWAYS_IGNORED = ['.git', 'node_modules'];

export async function packFolder(dir: string, onSkip: (rel: string, why: string) => void): Promise<{ file: string; entries: number }> {
  const root = await realpath(dir);
  const rules = [
    ...ALWAYS_IGNORED,
    await readFile(path.join(root, '.dockerignore'), 'utf8').catch(() => ''),
    await readFile(path.join(root, '.slipwayignore'), 'utf8').catch(() => ''),
  ];
  const ig = dockerignore({ ignorecase: false }).add(rules.join('\n'));
  const file = path.join(tmpdir(), `slipway-${path.basename(root)}-${process.pid}-${Date.now()}.tar.gz`);
  let entries = 0;
  const outside = new Set<string>();
  // tar-fs stats lazily; links are checked up front so `ignore` can stay synchronous.
  await collectOutsideLinks(root, outside, ig);
  const pack = tarFs.pack(root, {
    dereference: false,
    ignore: (name) => {
      const rel = path.relative(root, name);
      if (rel && ig.ignores(rel)) return true;
      if (outside.has(rel)) {
        onSkip(rel, 'a link pointing outside the folder');
        return true;
      }
      entries++;
      return false;
    },
    map: (header) => Object.assign(header, { uid: 0, gid: 0, uname: 'root', gname: 'root' }),
  });
  await pipeline(pack as unknown as NodeJS.ReadableStream, createGzip(), createWriteStream(file, { mode: 0o600 }));
  return { file, entries };
}

async function collectOutsideLinks(root: string, found: Set<string>, ig: { ignores(p: string): boolean }, rel = ''): Promise<void> {
  const { readdir, readlink } = await import('node:fs/promises');
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (ig.ignores(child)) continue;
    if (entry.isSymbolicLink()) {
      const target = path.resolve(path.join(root, rel), await readlink(path.join(root, child)));
      if (target !== root && !target.startsWith(`${root}${path.sep}`)) found.add(child);
    } else if (entry.isDirectory()) {
      await collectOutsideLinks(root, found, ig, child);
    }
  }
}

/** Build folders whose own name says nothing about the app: it is named after the project above them. */
const OUTPUT_FOLDERS = new Set(['dist', 'build', 'out', 'public', 'www', 'site']);

/**
 * What a packed folder is called when neither the flags nor its package.json say (`slipway deploy ./dist`
 * of a built site just works): the folder's name (the project's, for a build folder), and the time of the
 * upload as the version.
 */
export async function folderIdentity(dir: string, now = new Date()): Promise<{ app?: string; version?: string }> {
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as { name?: unknown; version?: unknown };
  const root = await realpath(dir);
  const base = path.basename(root);
  const named = OUTPUT_FOLDERS.has(base.toLowerCase()) ? path.basename(path.dirname(root)) : base;
  const app = named.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  const version = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return { ...(typeof pkg.name === 'string' || !app ? {} : { app }), ...(typeof pkg.version === 'string' ? {} : { version }) };
}
