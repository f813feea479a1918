import { describe, expect, it } from 'vitest';
import { AppSettingsPatchSchema } from '../src/settings';
import { volumeName, volumeSlug, VolumesSchema } from '../src/volumes';

describe('volumes', () => {
  it('names a volume after its app and path, in the grammar Docker takes', () => {
    expect(volumeSlug('/data')).toBe('data');
    expect(volumeSlug('/var/lib/My App')).toBe('var-lib-my-app');
    expect(volumeName('shop', '/var/lib/postgres')).toBe('slipway-shop-var-lib-postgres');
    expect(volumeName('shop', '/data', 'a1b2c3d4e5f6')).toBe('slipway-shop-data-a1b2c3d4e5f6');
  });

  it('takes absolute, plain paths only', () => {
    for (const path of ['/data', '/var/lib/app', '/srv/uploads.d', '/home/node/.cache']) expect(VolumesSchema.safeParse([{ path }]).success, path).toBe(true);
    for (const path of ['data', '/', '/data/', '//data', '/data/../etc', '/./data', '/proc', '/proc/1', '/sys/fs', '/dev/shm', '/da ta', '/data\0']) {
      expect(VolumesSchema.safeParse([{ path }]).success, path).toBe(false);
    }
  });

  it('refuses two paths that would share one volume, more than 10, and unknown fields', () => {
    const shared = VolumesSchema.safeParse([{ path: '/a-b' }, { path: '/a/b' }]);
    expect(shared.success).toBe(false);
    expect(shared.error?.issues[0]?.message).toMatch(/would share one volume/);
    expect(VolumesSchema.safeParse(Array.from({ length: 11 }, (_, i) => ({ path: `/v${i}` }))).success).toBe(false);
    expect(VolumesSchema.safeParse([{ path: '/data', readOnly: true }]).success).toBe(false);
  });

  it('is an app setting, with the switch mode beside it', () => {
    expect(AppSettingsPatchSchema.parse({ volumes: [{ path: '/data' }], switch: 'stop-first' })).toEqual({ volumes: [{ path: '/data' }], switch: 'stop-first' });
    expect(AppSettingsPatchSchema.safeParse({ switch: 'blue-green' }).success).toBe(false);
  });
});
