import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuMeter, networkTotals } from '../src/observe/sampler';

describe('host CPU meter', () => {
  it('gives the busy share of all cores since the last reading', () => {
    const core = (busy: number, idle: number) => ({ model: 'x', speed: 1, times: { user: busy, nice: 0, sys: 0, idle, irq: 0 } });
    const readings = [
      [core(100, 900), core(100, 900)],
      [core(400, 1200), core(100, 1500)], // +300 busy of 600, +0 busy of 600: 25 %
      [core(400, 1200), core(100, 1500)], // nothing elapsed
    ];
    const meter = new CpuMeter(() => readings.shift()!);
    expect(meter.percent()).toBe(25);
    expect(meter.percent()).toBe(0);
  });
});

describe('host network totals', () => {
  it('sums received and sent bytes of every interface but loopback', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'netdev-')), 'dev');
    await writeFile(
      file,
      [
        'Inter-|   Receive                                                |  Transmit',
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
        '    lo: 9999 10 0 0 0 0 0 0 9999 10 0 0 0 0 0 0',
        '  eth0: 1000 5 0 0 0 0 0 0 200 3 0 0 0 0 0 0',
        'veth1a2b:300 2 0 0 0 0 0 0 40 1 0 0 0 0 0 0',
        '',
      ].join('\n'),
    );
    expect(await networkTotals(file)).toEqual({ rx: 1300, tx: 240 });
    expect(await networkTotals(path.join(path.dirname(file), 'missing'))).toEqual({ rx: 0, tx: 0 });
  });
});
