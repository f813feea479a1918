/**
 * A volume downloaded or restored (issue 16, SPEC §4): both run in the app's line, so they never race a
 * deploy. A restore stops the app, empties the volume, unpacks the upload into it and starts the app
 * again; a download writes `<data>/exports/<op>.tar.gz` for the API to send.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import type { DeployJob } from '@slipway/contracts/job';
import { dataPaths } from '@slipway/runtime/config';
import type { WorkerContext } from '../context';
import { LABEL } from '../docker/labels';
import { confinedArchive } from '../jobs/job-paths';
import { appVolumes } from '../stages/volumes';
import { measureVolumes } from '../upkeep/volume-sizes';
import { LifecycleError } from '../errors';

type VolumeJob = Extract<DeployJob, { kind: 'lifecycle' }>;

export async function exportVolume(ctx: WorkerContext, job: VolumeJob): Promise<string> {
  const volume = await volumeOf(ctx, job);
  const exports = dataPaths(ctx.settings.dataDir).exports;
  await mkdir(exports, { recursive: true, mode: 0o700 });
  await dropStaleExports(exports);
  const file = path.join(exports, `${job.deployId}.tar.gz`);
  const { tar, done } = await ctx.engine.volumes.export(volume, await helperImage(ctx), helperLabels(ctx, job.app));
  try {
    await pipeline(tar, createGzip(), createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  } finally {
    await done();
  }
  return file;
}

export async function restoreVolume(ctx: WorkerContext, job: VolumeJob, app: { stop: () => Promise<void>; start: () => Promise<void> }): Promise<void> {
  const file = await confinedArchive(ctx.settings.dataDir, job.file ?? '');
  try {
    const volume = await volumeOf(ctx, job);
    // Read to the end before the volume is emptied: a broken upload must not cost the files there.
    await readWholeTar(file);
    const record = await ctx.store.getAppRecord(job.app);
    const running = Boolean(record.containerId && record.current && record.status !== 'stopped');
    // The app must not write while its files are replaced under it.
    if (running) await app.stop();
    try {
      await ctx.engine.volumes.restore(volume, await helperImage(ctx), helperLabels(ctx, job.app), createReadStream(file));
    } finally {
      if (running) await app.start();
    }
    await measureVolumes(ctx);
  } finally {
    await rm(file, { force: true });
  }
}

/** Gunzips (when gzipped) and walks every entry of the tar; throws `422 corrupt_archive` if it is not one. */
async function readWholeTar(file: string): Promise<void> {
  const head = Buffer.alloc(2);
  const fd = await open(file, 'r');
  try {
    await fd.read(head, 0, 2, 0);
  } finally {
    await fd.close();
  }
  const extract = tarStream.extract();
  let entries = 0;
  extract.on('entry', (_header, stream, next) => {
    entries++;
    stream.on('end', next);
    stream.resume();
  });
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  try {
    if (gzipped) await pipeline(createReadStream(file), createGunzip(), extract);
    else await pipeline(createReadStream(file), extract);
  } catch (err) {
    throw new LifecycleError(422, 'corrupt_archive', `The upload is not a complete .tar.gz or .tar (${(err as Error).message}); the volume was not touched`);
  }
  if (entries === 0) throw new LifecycleError(422, 'corrupt_archive', 'The upload holds no files, not even the volume\'s root; the volume was not touched');
}

/** Downloads nobody fetched (the request gave up before the export was done) go after an hour. */
async function dropStaleExports(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => null);
    if (info && Date.now() - info.mtimeMs > 3600_000) await rm(file, { force: true });
  }
}

/** The volume mounted at the job's path; made now if no version has run with it yet. */
async function volumeOf(ctx: WorkerContext, job: VolumeJob): Promise<string> {
  const settings = await ctx.store.getSettings(job.app);
  const declared = settings.volumes.find((v) => v.path === job.volumePath);
  if (!declared) throw new LifecycleError(404, 'volume_not_found', `${job.app} has no volume at ${job.volumePath ?? '(no path)'}`);
  const [mount] = await appVolumes(ctx, job.app, ctx.settings.instance, { ...settings, volumes: [declared] });
  return mount!.volume;
}

/** A small image with a shell, present wherever the Node template has built: the template's base. */
async function helperImage(ctx: WorkerContext): Promise<string> {
  const image = ctx.settings.baseImage;
  if (!(await ctx.engine.images.id(image))) await ctx.engine.images.pull(image);
  return image;
}

function helperLabels(ctx: WorkerContext, app: string): Record<string, string> {
  return { [LABEL.instance]: ctx.settings.instance, [LABEL.app]: app };
}
