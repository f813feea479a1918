import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '@slipway/contracts/settings';
import { loadSettings } from '@slipway/runtime/config';
import { serviceSpec } from '../src/runners/swarm';

describe('swarm service spec (issue 12: the hardening of docker mode)', () => {
  it('drops capabilities, forbids new privileges, limits memory, CPU and pids, and runs an init', () => {
    const settings = loadSettings({ SLIPWAY_SWARM_PUBLISH_MODE: 'host' });
    const app = DEFAULT_SETTINGS;
    const spec = serviceSpec({ settings }, { app: 'shop', version: '1.0.0', deployId: 'd1' }, 'shop:1.0.0', app, 3000, 40000) as any;
    const container = spec.TaskTemplate.ContainerSpec;
    expect(container).toMatchObject({ Init: true, CapabilityDrop: ['ALL'], CapabilityAdd: ['CAP_NET_BIND_SERVICE'] });
    // Engines from API 1.44 apply it; older ones drop the field (docs/swarm.md says what to do there).
    expect(container.Privileges).toEqual({ NoNewPrivileges: true });
    expect(spec.TaskTemplate.Resources.Limits).toEqual({ NanoCPUs: 1e9, MemoryBytes: 512 * 1024 * 1024, Pids: 256 });
    expect(spec.EndpointSpec.Ports).toEqual([{ Protocol: 'tcp', TargetPort: 3000, PublishedPort: 40000, PublishMode: 'host' }]);
  });

  it("mounts the app's volumes as labelled named volumes, and stops the old task first for stop-first apps (issue 16)", () => {
    const settings = loadSettings({});
    const app = { ...DEFAULT_SETTINGS, volumes: [{ path: '/var/lib/data' }], switch: 'stop-first' as const };
    const spec = serviceSpec({ settings }, { app: 'shop', version: '1.0.0', deployId: 'd1' }, 'shop:1.0.0', app, 3000, 40000) as any;
    expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([
      {
        Type: 'volume',
        Source: 'slipway-shop-var-lib-data',
        Target: '/var/lib/data',
        VolumeOptions: { Labels: { 'io.slipway.managed': 'true', 'io.slipway.instance': settings.instance, 'io.slipway.app': 'shop' } },
      },
    ]);
    expect(spec.UpdateConfig.Order).toBe('stop-first');
    const overlap = serviceSpec({ settings }, { app: 'shop', version: '1.0.0', deployId: 'd1' }, 'shop:1.0.0', DEFAULT_SETTINGS, 3000, 40000) as any;
    expect(overlap.UpdateConfig.Order).toBe('start-first');
    expect(overlap.TaskTemplate.ContainerSpec.Mounts).toEqual([]);
  });
});
