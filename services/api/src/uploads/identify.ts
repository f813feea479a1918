/**
 * Decides what an upload is before anything is queued: its format (by content), and the app name and
 * version (form fields → package.json → file name, SPEC §2). Reading package.json stops at the first match,
 * so a large archive is not decompressed twice when its manifest comes early (it normally does). The scan
 * is bounded (issue 12): an archive whose manifest is not within the first SCAN_BYTES / SCAN_ENTRIES is
 * refused at once unless the form names the app and version: a bomb costs the API 64 MiB of gunzip at most.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import yauzl from 'yauzl';
import { resolveIdentity } from '@slipway/contracts/names';
import { checkEntryPath, isUnsafeZipNameError, sniffFile, type ArchiveFormat } from '@slipway/runtime/archive';
import { AppError } from '../errors';
import type { StoredUpload } from './receive';

const MAX_MANIFEST_BYTES = 1024 * 1024;
/** How far the manifest is looked for: unpacked bytes (tar) and entries (tar and zip). */
export const SCAN_BYTES = 64 * 1024 * 1024;
export const SCAN_ENTRIES = 10_000;

/** The scan reached its bound without finding package.json. */
class ScanLimit extends Error {}

export interface Identified {
  format: ArchiveFormat;
  app: string;
  version: string;
}

export async function identifyUpload(upload: StoredUpload, form: { app?: string; version?: string }): Promise<Identified> {
  if (upload.size === 0) throw new AppError(422, 'empty_archive', 'The uploaded archive is empty');
  const format = await sniffFile(upload.path);
  if (!format) {
    throw new AppError(415, 'unsupported_archive', 'The file is not a .tar, .tar.gz/.tgz or .zip archive');
  }
  const needManifest = !form.app?.trim() || !form.version?.trim();
  const packageJson = needManifest ? await readManifest(upload.path, format, form) : null;
  const identity = resolveIdentity({ form, packageJson, fileName: upload.originalname });
  if (!identity.ok) throw new AppError(422, identity.code, identity.message);
  return { format, app: identity.app, version: identity.version };
}

async function readManifest(file: string, format: ArchiveFormat, form: { app?: string }): Promise<Record<string, unknown> | null> {
  try {
    const text = format === 'zip' ? await manifestFromZip(file) : await manifestFromTar(file, format === 'tar.gz');
    if (text === null) return null;
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new AppError(422, 'corrupt_archive', `package.json in the archive is not valid JSON: ${err.message}`);
    }
    if (err instanceof AppError) throw err;
    if (err instanceof ScanLimit) {
      // Not the file name instead: package.json comes before it (SPEC §2), and may be further on.
      const missing = form.app?.trim() ? 'version_required' : 'name_required';
      throw new AppError(
        422,
        missing,
        `No package.json in the first ${SCAN_BYTES / 1024 / 1024} MiB / ${SCAN_ENTRIES} entries of the archive (${err.message}): send the app and version as form fields (curl -F app=<name> -F version=<version>, or slipway deploy --app --version)`,
      );
    }
    if (isUnsafeZipNameError(err)) throw new AppError(422, 'unsafe_archive', `Refused: ${(err as Error).message}`);
    throw new AppError(422, 'corrupt_archive', `The archive could not be read: ${(err as Error).message}`);
  }
}

/**
 * Root `package.json`, or `<top>/package.json` while every entry so far shares that one top folder
 * (SPEC §2: a single top-level folder is the root).
 */
function isManifest(entryPath: string, tops: Set<string>): boolean {
  if (entryPath === 'package.json') return true;
  const parts = entryPath.split('/');
  return parts.length === 2 && parts[1] === 'package.json' && tops.size === 1 && tops.has(parts[0]!);
}

function topOf(entryPath: string): string | null {
  const top = entryPath.split('/')[0];
  return top && top !== '__MACOSX' ? top : null;
}

async function manifestFromTar(file: string, gzipped: boolean): Promise<string | null> {
  const extract = tar.extract();
  const source = createReadStream(file);
  const bounded = byteBound(SCAN_BYTES);
  const feeding = (gzipped ? pipeline(source, createGunzip(), bounded, extract) : pipeline(source, bounded, extract)).catch((err: Error) => err);
  const tops = new Set<string>();
  let found: string | null = null;
  let entries = 0;
  try {
    for await (const entry of extract) {
      if (++entries > SCAN_ENTRIES) throw new ScanLimit(`stopped after ${SCAN_ENTRIES} entries`);
      const checked = checkEntryPath(entry.header.name);
      const top = checked.ok ? topOf(checked.path) : null;
      if (top) tops.add(top);
      if (checked.ok && entry.header.type === 'file' && isManifest(checked.path, tops)) {
        if ((entry.header.size ?? 0) > MAX_MANIFEST_BYTES) throw new AppError(422, 'corrupt_archive', 'package.json is larger than 1 MiB');
        found = await readAll(entry);
        break;
      }
      entry.resume();
    }
  } finally {
    source.destroy();
  }
  if (found !== null) return found;
  const failure = await feeding;
  if (failure) throw failure;
  return null;
}

async function manifestFromZip(file: string): Promise<string | null> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: true, strictFileNames: true });
  const tops = new Set<string>();
  try {
    let entries = 0;
    for await (const entry of zip.eachEntry()) {
      if (++entries > SCAN_ENTRIES) throw new ScanLimit(`stopped after ${SCAN_ENTRIES} entries`);
      const checked = checkEntryPath(entry.fileName);
      const top = checked.ok ? topOf(checked.path) : null;
      if (top) tops.add(top);
      if (checked.ok && !entry.fileName.endsWith('/') && isManifest(checked.path, tops)) {
        if (entry.uncompressedSize > MAX_MANIFEST_BYTES) throw new AppError(422, 'corrupt_archive', 'package.json is larger than 1 MiB');
        return await readAll(await zip.openReadStreamPromise(entry));
      }
    }
    return null;
  } finally {
    zip.close();
  }
}

/** Passes bytes through until `max` have gone by, then fails the pipeline: the scan's unpacked-size bound. */
function byteBound(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new ScanLimit(`stopped after ${max / 1024 / 1024} MiB unpacked`));
      else done(null, chunk);
    },
  });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) throw new AppError(422, 'corrupt_archive', 'package.json is larger than 1 MiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
