import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostInterfaces } from '../src/system';

describe('host network interfaces', () => {
  it('reads state, speed and MAC from sysfs and addresses from Node, for every interface', async () => {
    const sys = await mkdtemp(path.join(tmpdir(), 'sysnet-'));
    const iface = async (name: string, files: Record<string, string>) => {
      await mkdir(path.join(sys, name));
      for (const [file, value] of Object.entries(files)) await writeFile(path.join(sys, name, file), `${value}\n`);
    };
    await iface('lo', { operstate: 'unknown', address: '00:00:00:00:00:00' });
    await iface('zz-down', { operstate: 'down', speed: '-1', address: '02:42:00:00:00:01' });
    await iface('zz-up', { operstate: 'up', speed: '1000', address: '02:42:00:00:00:02' });
    const list = await hostInterfaces(sys);
    expect(list.map((n) => n.iface)).toEqual(['lo', 'zz-down', 'zz-up']);
    // Loopback says "unknown" and is up; its address comes from Node's own list.
    expect(list[0]).toMatchObject({ iface: 'lo', ip4: '127.0.0.1', up: true, speedMbps: null });
    expect(list[1]).toEqual({ iface: 'zz-down', ip4: '', ip6: '', mac: '02:42:00:00:00:01', speedMbps: null, up: false });
    expect(list[2]).toEqual({ iface: 'zz-up', ip4: '', ip6: '', mac: '02:42:00:00:00:02', speedMbps: 1000, up: true });
  });
});
