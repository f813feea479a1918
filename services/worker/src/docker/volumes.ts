/**
 * Named volumes (issue 16): made with Slipway's labels, measured, exported as a tar of their contents and
 * restored from one. Export and restore go through a short-lived helper container that mounts the volume
 * and never starts for an export (the engine reads a stopped container's mounts); a restore first empties
 * the volume with one command in the base image.
 */
import type { Readable } from 'node:stream';
import { EngineClient, engineError, statusOf } from './client';
import { LABEL } from './labels';

export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
}

const MOUNT = '/volume';

export class Volumes {
  constructor(private readonly c: EngineClient) {}

  async inspect(name: string): Promise<VolumeInfo | null> {
    try {
      const v = await this.c.docker.getVolume(name).inspect();
      return { name: v.Name, labels: v.Labels ?? {} };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw engineError('inspect volume', err);
    }
  }

  async create(name: string, labels: Record<string, string>): Promise<void> {
    await this.c.call('create volume', () => this.c.docker.createVolume({ Name: name, Labels: labels }));
  }

  /** This installation's volumes carrying `labels`. */
  async list(labels: Record<string, string>): Promise<VolumeInfo[]> {
    const label = this.c.scoped(Object.entries(labels).map(([k, v]) => `${k}=${v}`));
    const res = await this.c.call('list volumes', () => this.c.docker.listVolumes({ filters: { label } }));
    return (res.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
  }

  async remove(name: string): Promise<void> {
    try {
      await this.c.docker.getVolume(name).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('remove volume', err);
    }
  }

  /** Bytes used by each of this installation's volumes (the engine's own disk-usage count). */
  async sizes(): Promise<Map<string, number>> {
    const df = (await this.c.call('measure volumes', () => this.c.docker.df())) as { Volumes?: Array<{ Name: string; Labels?: Record<string, string> | null; UsageData?: { Size?: number } }> };
    const sizes = new Map<string, number>();
    for (const v of df.Volumes ?? []) {
      if (v.Labels?.[LABEL.managed] !== 'true' || (this.c.instance && v.Labels[LABEL.instance] !== this.c.instance)) continue;
      if (typeof v.UsageData?.Size === 'number' && v.UsageData.Size >= 0) sizes.set(v.Name, v.UsageData.Size);
    }
    return sizes;
  }

  /** The volume's contents as a tar stream (entries `./…`); `done` removes the helper once it is read. */
  async export(name: string, image: string, labels: Record<string, string>): Promise<{ tar: Readable; done: () => Promise<void> }> {
    const helper = await this.helper(name, image, labels, ['true'], true);
    try {
      const tar = (await this.c.call('read volume', () => this.c.docker.getContainer(helper).getArchive({ path: `${MOUNT}/.` }))) as Readable;
      return { tar, done: () => this.dropHelper(helper) };
    } catch (err) {
      await this.dropHelper(helper);
      throw err;
    }
  }

  /** Empties the volume, then unpacks `tar` (plain or gzipped) into it, keeping the archive's owners. */
  async restore(name: string, image: string, labels: Record<string, string>, tar: Readable): Promise<void> {
    const helper = await this.helper(name, image, labels, ['sh', '-c', `find ${MOUNT} -mindepth 1 -maxdepth 1 -exec rm -rf {} +`], false);
    try {
      const container = this.c.docker.getContainer(helper);
      await this.c.call('empty volume', () => container.start());
      const { StatusCode } = (await this.c.call('empty volume', () => container.wait())) as { StatusCode: number };
      if (StatusCode !== 0) throw engineError('empty volume', new Error(`the emptying command exited with code ${StatusCode}`));
      await this.c.call('write volume', () => container.putArchive(tar, { path: MOUNT, copyUIDGID: true }));
    } finally {
      await this.dropHelper(helper);
    }
  }

  private async helper(volume: string, image: string, labels: Record<string, string>, cmd: string[], readOnly: boolean): Promise<string> {
    const container = await this.c.call('create volume helper', () =>
      this.c.docker.createContainer({
        Image: image,
        Entrypoint: [],
        Cmd: cmd,
        // A name, not an id: keeping the archive's owners (copyUIDGID) looks the user up in the image.
        User: 'root',
        Labels: { ...labels, [LABEL.managed]: 'true', 'io.slipway.helper': 'volume' },
        HostConfig: {
          Mounts: [{ Type: 'volume', Source: volume, Target: MOUNT, ReadOnly: readOnly }],
          NetworkMode: 'none',
          SecurityOpt: ['no-new-privileges'],
          Memory: 256 * 1024 * 1024,
          PidsLimit: 64,
        },
      }),
    );
    return container.id;
  }

  private async dropHelper(id: string): Promise<void> {
    await this.c.docker
      .getContainer(id)
      .remove({ force: true })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw engineError('remove volume helper', err);
      });
  }
}
