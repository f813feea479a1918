import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { networkTotals } from '../src/observe/sampler';

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
