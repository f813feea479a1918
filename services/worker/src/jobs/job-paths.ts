/**
 * A deploy job names its archive by path, and a job is only as trustworthy as Redis (issue 12): whoever can
 * write to the queue could name `/etc/passwd`, or a link planted in the data dir. The worker reads an
 * archive only when its real location is under `<data>/archives` or `<data>/uploads`, where the API puts them.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { dataPaths } from '@slipway/runtime/config';
import { PipelineError } from '../errors';

/** `target` strictly below `root` (both absolute, already resolved). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * The archive's real path, once proven inside the allowed roots; otherwise a PipelineError `unsafe_job`,
 * not retryable. The file itself is not opened here.
 */
export async function confinedArchive(dataDir: string, archivePath: string): Promise<string> {
  const { archives, uploads } = dataPaths(dataDir);
  const roots = await Promise.all([archives, uploads].map((root) => realpath(root).catch(() => path.resolve(root))));
  const refuse = () =>
    new PipelineError('unsafe_job', `The job's archive path is outside ${archives} and ${uploads}; it was not read (was the queue written to by something other than Slipway's API?)`);
  if (!path.isAbsolute(archivePath)) throw refuse();
  // A missing file is judged on its path: the unpack then fails as it always has, naming it missing.
  // A link loop or an unreadable folder on the way is no better than a path outside.
  const real = await realpath(archivePath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return path.resolve(archivePath);
    throw refuse();
  });
  if (!roots.some((root) => isInside(root, real))) throw refuse();
  return real;
}
