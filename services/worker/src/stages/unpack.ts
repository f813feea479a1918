/**
 * Stage 1: the upload becomes `<data>/cluster/<app>/<version>/`. Extraction goes to a staging folder
 * next to it and is renamed into place only when the whole archive passed, so a refused archive leaves
 * nothing behind and a half-unpacked tree is never visible (SPEC §2). Links are judged twice: entry by
 * entry through the links before it (so nothing is written through one), then the finished tree on disk.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tarFs from 'tar-fs';
import * as tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { checkEntryPath, checkLinkTarget, isUnsafeZipNameError, sniffFile } from '@slipway/runtime/archive';
import { LinkTracker, type EntryKind } from './links';
import { PipelineError } from '../errors';
import { checkLinksOnDisk } from './tree';

export interface UnpackInput {
  archivePath: string;
  /** `<data>/cluster/<app>` */
  appDir: string;
  version: string;
  stagingId: string;
  maxBytes: number;
  maxFiles: number;
}

export interface SourceDir {
  dir: string;
  files: number;
  bytes: number;
}

type Counter = { files: number; bytes: number };

export async function unpack(input: UnpackInput): Promise<SourceDir> {
  const staging = path.join(input.appDir, `.unpack-${input.stagingId}`);
  const target = path.join(input.appDir, input.version);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o755 });
  try {
    const format = await sniffFile(input.archivePath);
    const counter: Counter = { files: 0, bytes: 0 };
    if (format === 'zip') await unzip(input, staging, counter);
    else if (format === 'tar' || format === 'tar.gz') await untar(input, staging, format === 'tar.gz', counter);
    else throw new PipelineError('unsupported_archive', 'The file is not a .tar, .tar.gz/.tgz or .zip archive');
    if (counter.files === 0) throw new PipelineError('empty_archive', 'The archive holds no files');

    const root = await singleTopFolder(staging);
    // Judged from the folder that becomes the app's root, once every link exists.
    await checkLinksOnDisk(root);
    await rm(target, { recursive: true, force: true });
    await rename(root, target);
    return { dir: target, files: counter.files, bytes: counter.bytes };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(`${staging}.root`, { recursive: true, force: true });
  }
}

function countEntry(input: UnpackInput, counter: Counter, size: number): void {
  counter.files++;
  counter.bytes += size;
  if (counter.files > input.maxFiles) {
    throw new PipelineError('archive_too_large', `The archive has more than ${input.maxFiles} entries (SLIPWAY_MAX_FILES)`);
  }
  if (counter.bytes > input.maxBytes) throw tooLarge(input.maxBytes);
}

function tooLarge(maxBytes: number): PipelineError {
  return new PipelineError('archive_too_large', `The archive unpacks to more than ${Math.round(maxBytes / 1048576)} MiB (SLIPWAY_MAX_UNPACKED_MB)`);
}

/** Counts decompressed bytes: a gzip bomb stops here even when its tar headers claim small sizes. */
function byteCap(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(tooLarge(maxBytes));
      else done(null, chunk);
    },
  });
}

async function untar(input: UnpackInput, staging: string, gzipped: boolean, counter: Counter): Promise<void> {
  let refusal: PipelineError | null = null;
  const links = new LinkTracker();
  const extract = tarStream.extract();
  // Registered before tar-fs's own listener, so every header is checked before tar-fs touches the disk.
  extract.on('entry', (header: tarStream.Header, stream: NodeJS.EventEmitter) => {
    // Destroying the extractor errors the entry stream too; that error is reported through the pipeline.
    stream.on('error', () => {});
    if (refusal) return;
    try {
      checkHeader(header, input, counter, links);
    } catch (err) {
      refusal = err as PipelineError;
      extract.destroy(refusal);
    }
  });
  const options: tarFs.ExtractOptions & { extract: tarStream.Extract; chown: boolean; strict: boolean; validateSymlinks: boolean } = {
    extract,
    chown: false,
    strict: true,
    ignore: () => refusal !== null,
    // tar-fs's own check refuses any link to a link, even inside; the tracker above judges links exactly.
    validateSymlinks: false,
    // Directories without write permission for us would stop the extraction half-way.
    dmode: 0o700,
    fmode: 0o600,
  };
  // @types/tar-fs lags tar-fs 3 (no `extract` option): typed above from tar-stream.
  const sink = tarFs.extract(staging, options as unknown as tarFs.ExtractOptions);

  const source = createReadStream(input.archivePath);
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [source];
  if (gzipped) stages.push(createGunzip(), byteCap(input.maxBytes));
  try {
    await pipeline([...stages, sink] as unknown as [Readable, NodeJS.WritableStream]);
  } catch (err) {
    throw refusal ?? asArchiveError(err);
  }
  if (refusal) throw refusal;
}

/** Refuses the whole archive for one bad header: unsafe name, link leaving the folder, special file, caps. */
function checkHeader(header: tarStream.Header, input: UnpackInput, counter: Counter, links: LinkTracker): void {
  const checked = checkEntryPath(header.name);
  if (!checked.ok) throw new PipelineError('unsafe_archive', `Refused: ${checked.reason}`);
  const type = header.type ?? 'file';
  if (type === 'link') throw new PipelineError('unsafe_archive', `Refused: hard link "${checked.path}"`);
  if (type !== 'file' && type !== 'directory' && type !== 'symlink') {
    throw new PipelineError('unsafe_archive', `Refused: "${checked.path}" is a ${type}; only files, folders and links are allowed`);
  }
  admit(links, checked.path, type, header.linkname ?? '');
  countEntry(input, counter, header.size ?? 0);
}

/** The entry's place judged through the links before it; a link's target also by its text. */
function admit(links: LinkTracker, rel: string, kind: EntryKind, target: string): void {
  if (kind === 'symlink') {
    const text = checkLinkTarget(rel, target);
    if (!text.ok) throw new PipelineError('unsafe_archive', `Refused: ${text.reason}`);
  }
  const placed = links.admit(rel, kind, target);
  if (!placed.ok) throw new PipelineError('unsafe_archive', `Refused: ${placed.reason}`);
}

async function unzip(input: UnpackInput, staging: string, counter: Counter): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(input.archivePath, { lazyEntries: true, autoClose: true, strictFileNames: true, validateEntrySizes: true });
  } catch (err) {
    throw asArchiveError(err);
  }
  const links = new LinkTracker();
  try {
    for await (const entry of zip.eachEntry()) {
      const checked = checkEntryPath(entry.fileName);
      if (!checked.ok) throw new PipelineError('unsafe_archive', `Refused: ${checked.reason}`);
      if (!checked.path) continue;
      const rel = checked.path;
      const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
      const dest = path.join(staging, rel);
      countEntry(input, counter, entry.uncompressedSize);
      if (entry.fileName.endsWith('/') || mode === 0o040000) {
        admit(links, rel, 'directory', '');
        await mkdir(dest, { recursive: true, mode: 0o755 });
      } else if (mode === 0o120000) {
        const target = (await readStream(await zip.openReadStreamPromise(entry), 4096)).toString('utf8');
        admit(links, rel, 'symlink', target);
        await mkdir(path.dirname(dest), { recursive: true });
        await symlink(target, dest);
      } else if (mode === 0 || mode === 0o100000) {
        admit(links, rel, 'file', '');
        await mkdir(path.dirname(dest), { recursive: true });
        const executable = ((entry.externalFileAttributes >>> 16) & 0o111) !== 0;
        await pipeline(
          await zip.openReadStreamPromise(entry),
          byteCap(input.maxBytes - (counter.bytes - entry.uncompressedSize)),
          createWriteStream(dest, { flags: 'wx', mode: executable ? 0o755 : 0o644 }),
        );
      } else {
        throw new PipelineError('unsafe_archive', `Refused: "${rel}" is a device, FIFO or socket`);
      }
    }
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    throw asArchiveError(err);
  } finally {
    zip.close();
  }
}

async function readStream(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new PipelineError('unsafe_archive', 'Refused: a link target longer than 4096 bytes');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A single top-level folder is the app's root (macOS's `__MACOSX` companion folder aside). */
async function singleTopFolder(staging: string): Promise<string> {
  const entries = (await readdir(staging)).filter((name) => name !== '__MACOSX');
  if (entries.length !== 1) return staging;
  const only = path.join(staging, entries[0]!);
  const info = await lstat(only);
  if (!info.isDirectory()) return staging;
  // Move it out of the staging folder first, so removing staging afterwards cannot touch it.
  const lifted = `${staging}.root`;
  await rm(lifted, { recursive: true, force: true });
  await rename(only, lifted);
  return lifted;
}

function asArchiveError(err: unknown): PipelineError {
  if (err instanceof PipelineError) return err;
  const message = (err as Error).message ?? String(err);
  const code = (err as { code?: string }).code;
  if (code === 'ENOSPC') return new PipelineError('disk_full', 'No space left on the data disk while unpacking; free some space (old archives, logs) and deploy again');
  if (code === 'ENAMETOOLONG') return new PipelineError('unsafe_archive', 'Refused: an entry name is longer than the file system allows');
  if (/not a valid (path|symlink|hardlink)/.test(message)) return new PipelineError('unsafe_archive', `Refused: ${message.replace(/^.*?\/\.unpack-[^/]+\/?/, '')}`);
  if (/unsupported type/.test(message)) return new PipelineError('unsafe_archive', `Refused: ${message}`);
  if (isUnsafeZipNameError(err)) return new PipelineError('unsafe_archive', `Refused: ${message}`);
  return new PipelineError('corrupt_archive', `The archive is corrupt or truncated: ${message}`);
}

