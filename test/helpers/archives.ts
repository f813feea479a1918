/** Archives for tests: fixture apps packed as users pack them, and hostile ones built entry by entry. */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import yazl from 'yazl';

export const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

export interface Entry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  linkname?: string;
  mode?: number;
}

export async function tarOf(entries: Entry[], gzip = true): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), size: content?.length ?? 0 };
    if (content) pack.entry(header, content);
    else pack.entry(header, '');
  }
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return gzip ? gzipSync(raw) : raw;
}

export async function zipOf(entries: Entry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.type === 'directory') zip.addEmptyDirectory(e.name);
    else if (e.type === 'symlink') zip.addBuffer(Buffer.from(e.linkname ?? ''), e.name, { mode: 0o120777 });
    else zip.addBuffer(Buffer.from(e.content ?? ''), e.name, { mode: e.mode ?? 0o100644 });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** yazl refuses unsafe names itself; zip-slip archives are patched after writing a same-length safe name. */
export async function zipWithRawName(safeName: string, rawName: string, content: string): Promise<Buffer> {
  if (safeName.length !== rawName.length) throw new Error('names must have the same length');
  const buffer = await zipOf([{ name: safeName, content }]);
  return Buffer.from(buffer.toString('latin1').split(safeName).join(rawName), 'latin1');
}

/** A fixture app's files, with package.json's version (and optionally name) replaced. */
export async function fixtureEntries(app: string, overrides: { name?: string; version?: string } = {}, top?: string): Promise<Entry[]> {
  const dir = path.join(FIXTURES, app);
  const entries: Entry[] = [];
  const walk = async (rel: string) => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, relPath);
      if ((await stat(abs)).isDirectory()) {
        entries.push({ name: `${relPath}/`, type: 'directory' });
        await walk(relPath);
        continue;
      }
      let content: string | Buffer = await readFile(abs);
      if (relPath === 'package.json' && (overrides.version || overrides.name)) {
        const pkg = JSON.parse(content.toString('utf8'));
        content = JSON.stringify({ ...pkg, ...overrides }, null, 2);
      }
      entries.push({ name: relPath, content });
    }
  };
  await walk('');
  return top ? [{ name: `${top}/`, type: 'directory' }, ...entries.map((e) => ({ ...e, name: `${top}/${e.name}` }))] : entries;
}

export async function fixtureTgz(app: string, overrides: { name?: string; version?: string } = {}): Promise<Buffer> {
  return tarOf(await fixtureEntries(app, overrides, app));
}

/**
 * The `slowstop` app (named `steady`) as `version`, shaped for fault tests: a start delay to catch the
 * health check, megabytes of extra files to catch the unpack, a build step that sleeps to catch the build.
 */
export async function steadyApp(
  version: string,
  opts: { startDelayMs?: number; blobMiB?: number; buildSleepS?: number; name?: string } = {},
): Promise<Buffer> {
  const entries: Entry[] = await fixtureEntries('slowstop', { version, ...(opts.name ? { name: opts.name } : {}) });
  if (opts.startDelayMs) {
    const pkg = entries.find((e) => e.name === 'package.json')!;
    pkg.content = JSON.stringify({ name: opts.name ?? 'steady', version, scripts: { start: `START_DELAY_MS=${opts.startDelayMs} node server.js` } });
  }
  for (let i = 0; i < (opts.blobMiB ?? 0); i++) entries.push({ name: `blob/${i}.bin`, content: Buffer.alloc(1024 * 1024, i) });
  if (opts.blobMiB) entries.push({ name: '.dockerignore', content: 'blob\n' });
  if (opts.buildSleepS) entries.push({ name: 'Makefile', content: `build:\n\tsleep ${opts.buildSleepS}\nstart:\n\tnode server.js\n` });
  return tarOf(entries);
}

/** An app with its own Dockerfile answering `<app> <version>`; its build step names the version, so it never comes from the layer cache. */
export function dockerfileApp(app: string, version: string, buildS = 0): Promise<Buffer> {
  return tarOf([
    { name: 'Dockerfile', content: `FROM node:20-slim\nRUN echo building ${app} ${version} && sleep ${buildS}\nCOPY server.js /srv/server.js\nCMD ["node", "/srv/server.js"]\n` },
    { name: 'server.js', content: `require('http').createServer((q, s) => s.end('${app} ${version}')).listen(process.env.PORT || 3000)` },
  ]);
}

/** A gzip of many members, each 64 MiB of zeros: 6 GiB that costs 6 MB to send. */
export function zeroBomb(gib: number): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  const header = Buffer.alloc(512);
  header.write('zeros', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${(gib * 1024 ** 3).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([gzipSync(header), ...Array.from({ length: gib * 16 }, () => member)]);
}
