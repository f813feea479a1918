import { describe, expect, it } from 'vitest';
import { DomainsSchema, isUnderSuffix } from '../src/domains';

describe('domains', () => {
  it('takes host names, lower-cased and without a final dot', () => {
    expect(DomainsSchema.parse(['Shop.Example.COM', 'a-b.c.example.org.', 'xn--bcher-kva.example'])).toEqual(['shop.example.com', 'a-b.c.example.org', 'xn--bcher-kva.example']);
  });

  it('refuses anything else', () => {
    for (const d of ['shop', 'http://a.example.com', 'a.example.com:80', 'a.example.com/x', '*.example.com', 'a..example.com', '-a.example.com', 'a-.example.com', `${'a'.repeat(64)}.example.com`, 'a b.example.com', '']) {
      expect(DomainsSchema.safeParse([d]).success, d).toBe(false);
    }
    expect(DomainsSchema.safeParse(['a.example.com', 'A.example.com']).success).toBe(false);
  });

  it('tells domains under Slipway\'s own suffix', () => {
    expect(isUnderSuffix('shop.localhost', 'localhost')).toBe(true);
    expect(isUnderSuffix('localhost', 'localhost')).toBe(true);
    expect(isUnderSuffix('mylocalhost.example', 'localhost')).toBe(false);
  });
});
