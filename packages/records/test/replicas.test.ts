import { describe, expect, it } from 'vitest';
import { leaving, parseRouteUpdate, routeTo } from '../src/route-announcements';
import { replicasOf } from '../src/store';

const two = [
  { containerId: 'a', port: 4001, address: '10.213.0.2:3000' },
  { containerId: 'b', port: 4002, address: undefined },
];

describe('instances in the records and route announcements', () => {
  it('reads a record written before instances as its one container', () => {
    expect(replicasOf({ current: '1.0.0', containerId: 'a', port: 4001, address: '10.213.0.2:3000' })).toEqual([{ containerId: 'a', port: 4001, address: '10.213.0.2:3000' }]);
    expect(replicasOf({ current: '1.0.0', containerId: 'a', port: 4001, replicas: two })).toEqual(two);
    expect(replicasOf({})).toEqual([]);
  });

  it('announces every container, the first also as port and address', () => {
    expect(routeTo('2.0.0', two)).toEqual({ version: '2.0.0', port: 4001, address: '10.213.0.2:3000', upstreams: [{ port: 4001, address: '10.213.0.2:3000', node: null }, { port: 4002, address: null, node: null }] });
  });

  it('drains every container an app leaves, none of a stopped one', () => {
    expect(leaving({ current: '1.0.0', containerId: 'a', port: 4001, replicas: two, status: 'running' })).toEqual({ previousPort: 4001, previousPorts: [4001, 4002] });
    expect(leaving({ current: '1.0.0', containerId: 'a', port: 4001, replicas: two, status: 'stopped' })).toEqual({ previousPort: null, previousPorts: [] });
  });

  it('keeps only well-formed upstreams from a message', () => {
    const update = parseRouteUpdate(
      JSON.stringify({ app: 'a', nonce: 'n', version: '1', port: 4001, upstreams: [{ port: 4001, address: '10.213.0.2:3000' }, { port: 'x' }, { port: 4002, address: 'evil.example:80', node: 'evil.example' }, { port: 4003, node: '10.77.0.2' }], previousPorts: [1, 'two', 3] }),
    );
    // A swarm task's node is an address, never a name a message could point anywhere.
    expect(update?.upstreams).toEqual([{ port: 4001, address: '10.213.0.2:3000', node: null }, { port: 4002, address: null, node: null }, { port: 4003, address: null, node: '10.77.0.2' }]);
    expect(update?.previousPorts).toEqual([1, 3]);
  });
});
