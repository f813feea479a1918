import { describe, expect, it } from 'vitest';
import { realDisks } from '../src/system';

const disk = (mount: string, type = 'ext4') => ({ mount, fs: `/dev/${mount.length}`, type, size: 100, used: 50, use: 50 });

describe('the disks the System page lists (issue 18)', () => {
  it('leaves out container overlays and mounts inside Docker\'s data root, and marks the disk that holds it', () => {
    const list = realDisks(
      [disk('/'), disk('/var'), disk('/var/lib/docker/overlay2/abc/merged', 'overlay'), disk('/var/lib/docker/containers/x/mounts/shm', 'tmpfs'), disk('/boot', 'vfat')],
      '/var/lib/docker',
    );
    expect(list.map((d) => `${d.mount} ${d.dockerRoot}`)).toEqual(['/ false', '/var true', '/boot false']);
  });

  it('marks the root filesystem when nothing closer holds the data root, and nothing without one', () => {
    expect(realDisks([disk('/'), disk('/home')], '/var/lib/docker').map((d) => d.dockerRoot)).toEqual([true, false]);
    expect(realDisks([disk('/'), disk('/x', 'overlay')], undefined).map((d) => `${d.mount} ${d.dockerRoot}`)).toEqual(['/ false']);
  });
});
