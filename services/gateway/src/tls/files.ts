/** Keys on disk: in folders only their owner can list (0700), in files only their owner can read (0600). */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing folder's mode as it was.
  await chmod(dir, 0o700);
}

/** Written whole or not at all: a crash mid-write leaves the previous file, never half a key. */
export async function writePrivate(file: string, text: string): Promise<void> {
  await privateDir(path.dirname(file));
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}
