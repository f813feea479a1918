import { describe, expect, it } from 'vitest';
import { bucketIndex, emptyCount, LATENCY_BOUNDS_MS, percentile } from '../src/traffic-history';

describe('latency histogram', () => {
  it('puts a latency in the first bucket whose bound holds it', () => {
    expect(bucketIndex(0.3)).toBe(0);
    expect(bucketIndex(1)).toBe(0);
    expect(bucketIndex(1.5)).toBe(1);
    expect(bucketIndex(99)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(bucketIndex(60_000)).toBe(LATENCY_BOUNDS_MS.length);
  });

  it('reads percentiles as bucket bounds', () => {
    const count = emptyCount();
    for (let i = 0; i < 90; i++) count.histogram[bucketIndex(4)]!++;
    for (let i = 0; i < 10; i++) count.histogram[bucketIndex(180)]!++;
    expect(percentile(count.histogram, 0.5)).toBe(5);
    expect(percentile(count.histogram, 0.95)).toBe(200);
    expect(percentile(emptyCount().histogram, 0.5)).toBe(0);
  });
});
