/**
 * What a static site's image runs (issue 15): sirv, a kept static file server, with its three small
 * dependencies copied from Slipway's own node_modules, and templates/site-server.mjs, which sets the
 * cache headers and writes access lines. Sent in the build context as `.slipway/site-server/`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installPath } from '@slipway/runtime/install-root';

const SERVER_ENTRY = installPath('templates', 'site-server.mjs');
const PACKAGES = ['sirv', '@polka/url', 'mrmime', 'totalist'];

export interface ContextFile {
  name: string;
  content: Buffer | string;
  mode?: number;
}

let cached: ContextFile[] | null = null;

export async function siteServerFiles(): Promise<ContextFile[]> {
  if (cached) return cached;
  const files: ContextFile[] = [{ name: '.slipway/site-server/server.mjs', content: await readFile(SERVER_ENTRY) }];
  const sirv = packageDir(createRequire(import.meta.url), 'sirv');
  const fromSirv = createRequire(path.join(sirv, 'package.json'));
  for (const name of PACKAGES) {
    const dir = name === 'sirv' ? sirv : packageDir(fromSirv, name);
    for (const rel of await filesUnder(dir)) {
      files.push({ name: `.slipway/site-server/node_modules/${name}/${rel}`, content: await readFile(path.join(dir, rel)) });
    }
  }
  cached = files;
  return files;
}

/** The package's folder: its main file's folder, walked up to the package.json that names it. */
function packageDir(require: NodeJS.Require, name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!dir.endsWith(path.join('node_modules', name))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = up;
  }
  return dir;
}

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(dir, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out;
}

/** The line the template's last build step prints: the folder it serves and how many files it holds. */
export function siteLine(line: string): { dir: string; files: number } | null {
  const m = /^slipway-site: (\S+) (\d+)$/.exec(line.trim());
  return m ? { dir: m[1]!, files: Number(m[2]) } : null;
}
