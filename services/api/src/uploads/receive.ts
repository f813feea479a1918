/**
 * Streams the multipart upload to disk, hashing it on the way (one pass, constant memory), with every
 * multer limit set. Partial files of aborted or refused uploads are removed by multer through `_removeFile`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multer from '@koa/multer';
import type { Context, Middleware } from 'koa';
import { AppError } from '../errors';

export interface StoredUpload {
  path: string;
  originalname: string;
  size: number;
  sha256: string;
}

/**
 * The archive receiveArchive stored for this request, as the storage engine below recorded it (multer's
 * own type knows nothing of the hash); answers 400 when the request carried none.
 */
export function storedArchive(koa: Context): StoredUpload {
  const file = (koa as Context & { file?: StoredUpload }).file;
  if (!file) throw new AppError(400, 'archive_required', 'Send the archive as multipart/form-data in the field "archive"');
  return file;
}

/** How long a refused upload may keep sending before its connection is closed. */
const DRAIN_LIMIT_MS = 30_000;

type StorageCallback = (error: Error | null, info?: Partial<StoredUpload>) => void;

/** A multer storage engine: write to `<dir>/<uuid>.upload` while hashing. */
function hashingDiskStorage(dir: string) {
  return {
    _handleFile(_req: unknown, file: { stream: NodeJS.ReadableStream }, cb: StorageCallback) {
      const target = path.join(dir, `${randomUUID()}.upload`);
      const hash = createHash('sha256');
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      pipeline(file.stream, meter, createWriteStream(target, { flags: 'wx', mode: 0o600 })).then(
        () => cb(null, { path: target, size, sha256: hash.digest('hex') }),
        (err: Error) => rm(target, { force: true }).finally(() => cb(err)),
      );
    },
    _removeFile(_req: unknown, file: { path?: string }, cb: (error: Error | null) => void) {
      if (!file.path) return cb(null);
      rm(file.path, { force: true }).then(() => cb(null), cb);
    },
  };
}

export function receiveArchive(opts: { uploadsDir: string; maxBytes: number }): Middleware {
  const upload = multer({
    storage: hashingDiskStorage(opts.uploadsDir) as never,
    limits: {
      fileSize: opts.maxBytes,
      files: 1,
      fields: 8,
      parts: 10,
      fieldNameSize: 64,
      fieldSize: 1024,
      headerPairs: 64,
    },
  }).single('archive');

  const maxMb = Math.round(opts.maxBytes / 1024 / 1024);
  return async (ctx, next) => {
    if (!ctx.is('multipart/form-data')) {
      throw new AppError(400, 'archive_required', 'Send the archive as multipart/form-data in the field "archive"');
    }
    // Refuse an announced oversize body without storing a byte of it (multipart framing adds a little).
    // The body is read and discarded before answering, as multer does, so a client still sending gets the
    // 413 instead of a broken pipe; one that keeps sending past DRAIN_LIMIT_MS is cut off.
    const announced = Number(ctx.get('content-length'));
    if (announced && announced > opts.maxBytes + 64 * 1024) {
      if (!(await drained(ctx.req, DRAIN_LIMIT_MS))) ctx.set('Connection', 'close');
      throw new AppError(413, 'payload_too_large', `The upload is larger than the ${maxMb} MiB limit (SLIPWAY_MAX_UPLOAD_MB)`);
    }
    try {
      await upload(ctx, async () => {});
    } catch (err) {
      throw multerError(err, maxMb);
    }
    await next();
  };
}

/** Reads and discards a request body; false when it did not end in time. */
function drained(req: IncomingMessage, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (req.complete) return resolve(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ended: boolean) => {
      clearTimeout(timer);
      req.off('end', onEnd).off('close', onClose);
      resolve(ended);
    };
    const onEnd = () => done(true);
    const onClose = () => done(req.complete);
    req.on('end', onEnd).on('close', onClose).resume();
  });
}

function multerError(err: unknown, maxMb: number): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') {
    const message = (err as Error).message ?? 'malformed upload';
    return new AppError(400, 'bad_request', `Malformed multipart upload: ${message}`);
  }
  switch (code) {
    case 'ENOSPC':
      return new AppError(507, 'disk_full', 'The data disk is full: nothing was stored. Free some space (old archives, logs) and upload again');
    case 'LIMIT_FILE_SIZE':
      return new AppError(413, 'payload_too_large', `The archive is larger than the ${maxMb} MiB limit (SLIPWAY_MAX_UPLOAD_MB)`);
    case 'LIMIT_UNEXPECTED_FILE':
    case 'LIMIT_FILE_COUNT':
      return new AppError(400, 'bad_request', 'Send exactly one file, in the field "archive"');
    case 'LIMIT_PART_COUNT':
    case 'LIMIT_FIELD_COUNT':
      return new AppError(400, 'bad_request', 'Too many form fields: send "archive", and optionally "app" and "version"');
    case 'LIMIT_FIELD_KEY':
    case 'LIMIT_FIELD_VALUE':
      return new AppError(400, 'bad_request', 'A form field name or value is too long');
    default:
      return new AppError(400, 'bad_request', `Malformed multipart upload (${code})`);
  }
}

/** Uploads running at once per token or session (SPEC §5): one client cannot fill the disk in parallel. */
const UPLOADS_PER_PRINCIPAL = 2;
const running = new Map<string, number>();

export function uploadSlot(): Middleware {
  return async (ctx, next) => {
    const principal = ctx.state.principal as { user: string; ref: string } | undefined;
    const key = principal ? `${principal.user}:${principal.ref}` : ctx.ip;
    const now = running.get(key) ?? 0;
    if (now >= UPLOADS_PER_PRINCIPAL) {
      throw new AppError(429, 'too_many_requests', `At most ${UPLOADS_PER_PRINCIPAL} uploads at once per token; wait for one to finish`, { 'Retry-After': '5' });
    }
    running.set(key, now + 1);
    try {
      await next();
    } finally {
      const left = (running.get(key) ?? 1) - 1;
      if (left > 0) running.set(key, left);
      else running.delete(key);
    }
  };
}
