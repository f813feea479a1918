/**
 * What an uploaded file is, and whether an entry name inside it is safe. Pure checks shared by the API
 * (which peeks at package.json) and the worker (which unpacks): both must agree on what is refused.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

/** By content, not by name: a `.tgz` that is really a zip still unpacks, a text file named `.tgz` does not. */
export function sniffFormat(head: Buffer): ArchiveFormat | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05) && (head[3] === 0x04 || head[3] === 0x06)) {
    return 'zip';
  }
  if (head.length >= 263 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return null;
}

export async function sniffFile(file: string): Promise<ArchiveFormat | null> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return sniffFormat(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

/**
 * An entry name is safe when, read as a relative POSIX path, it stays inside the root:
 * no absolute path, no `..` segment, no NUL. Leading `./` is dropped. Returns the normalized path.
 */
export function checkEntryPath(name: string): PathCheck {
  if (name.includes('\0')) return { ok: false, reason: `entry name contains a NUL byte` };
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return { ok: false, reason: `absolute path "${short(name)}"` };
  const segments = name.split(/[\\/]/);
  if (segments.includes('..')) return { ok: false, reason: `path "${short(name)}" climbs out with ".."` };
  const normalized = path.posix.normalize(segments.filter((s) => s !== '' && s !== '.').join('/'));
  if (normalized.length > 4096) return { ok: false, reason: 'entry name longer than 4096 characters' };
  return { ok: true, path: normalized === '.' ? '' : normalized };
}

/**
 * A symbolic link is kept only when its target, resolved from the link's own folder, stays inside the root.
 * Absolute targets are refused even when they would point inside: inside the image they mean something else.
 */
export function checkLinkTarget(entryPath: string, target: string): PathCheck {
  if (!target || target.includes('\0')) return { ok: false, reason: `link "${short(entryPath)}" has an empty or invalid target` };
  if (target.startsWith('/')) return { ok: false, reason: `link "${short(entryPath)}" points to the absolute path "${short(target)}"` };
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entryPath), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    return { ok: false, reason: `link "${short(entryPath)}" points outside the app folder ("${short(target)}")` };
  }
  return { ok: true, path: resolved };
}

function short(s: string): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

/** yauzl's own entry-name checks (strictFileNames) fail with these messages: zip-slip and absolute names. */
export function isUnsafeZipNameError(err: unknown): boolean {
  return /invalid relative path|absolute path|invalid characters in fileName/.test((err as Error)?.message ?? '');
}
