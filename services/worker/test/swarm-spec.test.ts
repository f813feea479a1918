import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '@slipway/contracts/settings';
import { loadSettings } from '@slipway/runtime/config';
import { serviceName, serviceSpec } from '../src/runners/swarm';

const target = { app: 'shop', version: '1.0.0', deployId: 'dmiaq3k2x9f00dbeef' };

describe('swarm service spec', () => {
  it('drops capabilities, forbids new privileges, limits memory, CPU and pids, and runs an init (issue 12)', () => {
    const settings = loadSettings({});
    const spec = serviceSpec({ settings }, target, 'shop:1.0.0', DEFAULT_SETTINGS, null, 'slipway-shop-x-swarm') as any;
    const container = spec.TaskTemplate.ContainerSpec;
    expect(container).toMatchObject({ Init: true, CapabilityDrop: ['ALL'], CapabilityAdd: ['CAP_NET_BIND_SERVICE'] });
    // Engines from API 1.44 apply it; older ones drop the field (docs/swarm.md says what to do there).
    expect(container.Privileges).toEqual({ NoNewPrivileges: true });
    expect(spec.TaskTemplate.Resources.Limits).toEqual({ NanoCPUs: 1e9, MemoryBytes: 512 * 1024 * 1024, Pids: 256 });
  });

  it('is a service per version, its tasks spread over the nodes, each publishing a port of its node (issue 17)', () => {
    const settings = loadSettings({});
    const spec = serviceSpec({ settings }, target, 'shop:1.0.0', { ...DEFAULT_SETTINGS, instances: 3 }, null, 'slipway-shop-x-swarm') as any;
    expect(spec.Name).toBe('slipway_shop_dmiaq3k2x9f00dbeef');
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } });
    expect(spec.TaskTemplate.Placement).toEqual({ Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }], Constraints: [] });
    // No published port: the engine picks one per task, so tasks of two versions can share a node.
    expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 3000, PublishMode: 'host' }] });
    expect(spec.UpdateConfig).toBeUndefined();
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'slipway-shop-x-swarm' }]);
  });

  it('keeps service names within 63 characters for the longest app name', () => {
    expect(serviceName('a'.repeat(63), 'dmiaq3k2x9ff00dbeef').length).toBeLessThanOrEqual(63);
  });

  it("mounts the app's volumes as labelled named volumes on the node it is pinned to (issue 16)", () => {
    const settings = loadSettings({});
    const app = { ...DEFAULT_SETTINGS, volumes: [{ path: '/var/lib/data' }] };
    const spec = serviceSpec({ settings }, target, 'shop:1.0.0', app, 'node1id', 'slipway-shop-x-swarm') as any;
    expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([
      {
        Type: 'volume',
        Source: 'slipway-shop-var-lib-data',
        Target: '/var/lib/data',
        VolumeOptions: { Labels: { 'io.slipway.managed': 'true', 'io.slipway.instance': settings.instance, 'io.slipway.app': 'shop' } },
      },
    ]);
    expect(spec.TaskTemplate.Placement.Constraints).toEqual(['node.id==node1id']);
  });
});
