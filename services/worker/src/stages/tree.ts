/**
 * The unpacked tree as the build sees it (SPEC §2, issue 12): its links judged on disk once the unpack
 * is done, and its inputs (Dockerfile, manifests, lockfiles, .dockerignore, Makefile) read without
 * following a link out of it. The unpack already refuses such links; reading stays careful anyway, as a
 * tree is rebuilt from disk long after it was unpacked.
 */
import { constants } from 'node:fs';
import { open, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { resolveLink } from './links';
import { PipelineError } from '../errors';

/** Every link under `root`, read back from the disk, must resolve inside `root` through all the others. */
export async function checkLinksOnDisk(root: string): Promise<void> {
  const links = new Map<string, string>();
  const folders = [''];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const entry of await readdir(path.join(root, folder), { withFileTypes: true })) {
      const rel = folder ? `${folder}/${entry.name}` : entry.name;
      // readdir reports a link as a link: the walk never descends through one.
      if (entry.isSymbolicLink()) links.set(rel, await readlink(path.join(root, rel)));
      else if (entry.isDirectory()) folders.push(rel);
    }
  }
  for (const [rel, target] of links) {
    const resolved = resolveLink(rel, target, (p) => links.get(p));
    if (!resolved.ok) throw new PipelineError('unsafe_archive', `Refused: ${resolved.reason}`);
  }
}

/**
 * The real path of `rel` when it is inside `root` (through links that stay inside), null when it does not
 * exist. A path or link that leads out is refused: the build must never read the host's files.
 */
async function locate(root: string, rel: string): Promise<string | null> {
  const joined = path.resolve(root, rel);
  if (!inside(path.resolve(root), joined)) throw outside(rel);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP') throw outside(rel);
    throw err;
  }
  if (!inside(await realpath(root), real)) throw outside(rel);
  return real;
}

/** The content of the regular file `rel` inside `root`, or null when there is none. */
export async function readInside(root: string, rel: string): Promise<Buffer | null> {
  const real = await locate(root, rel);
  if (real === null) return null;
  // O_NOFOLLOW: the located path has no link left in it, and one swapped in since is not followed.
  // O_NONBLOCK: a FIFO where a file should be must not hang the build.
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw outside(rel);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) return null;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Whether `rel` exists inside `root`; a path that leads out counts as absent, and is never probed. */
export async function existsInside(root: string, rel: string): Promise<boolean> {
  try {
    return (await locate(root, rel)) !== null;
  } catch (err) {
    if (err instanceof PipelineError) return false;
    throw err;
  }
}

/** package.json of the unpacked app, when there is one and it parses; one that leads out is refused. */
export async function readManifest(dir: string): Promise<Record<string, unknown> | null> {
  const content = await readInside(dir, 'package.json');
  if (content === null) return null;
  try {
    const parsed: unknown = JSON.parse(content.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(`${root}${path.sep}`);
}

function outside(rel: string): PipelineError {
  return new PipelineError('unsafe_archive', `Refused: "${rel}" is a link that leads outside the app folder; the build reads only the app's own files`);
}
