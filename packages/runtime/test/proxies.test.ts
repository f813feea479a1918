import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config';
import { forwardedClient, forwardedProto, isTrusted, parseTrustedProxies } from '../src/proxies';

const list = (text: string) => {
  const parsed = parseTrustedProxies(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.list;
};

describe('SLIPWAY_TRUSTED_PROXIES (SPEC §1)', () => {
  it('parses addresses and CIDRs, IPv4 and IPv6, and refuses anything else', () => {
    expect(list('')).toEqual([]);
    expect(list(' 127.0.0.1 , 10.0.0.0/8,::1, fd00::/8 ')).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1/128', 'fd00::/8']);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '1.2.3', '10.0.0.0/', '10.0.0.0/x', '*']) {
      expect(parseTrustedProxies(bad).ok, bad).toBe(false);
    }
  });

  it('is a setting, empty by default, and a bad value stops the start naming it', () => {
    expect(loadSettings({}).trustedProxies).toEqual([]);
    expect(loadSettings({ SLIPWAY_TRUSTED_PROXIES: '127.0.0.1,192.168.0.0/16' }).trustedProxies).toEqual(['127.0.0.1/32', '192.168.0.0/16']);
    expect(() => loadSettings({ SLIPWAY_TRUSTED_PROXIES: '127.0.0.1,proxy.local' })).toThrow(/SLIPWAY_TRUSTED_PROXIES/);
  });

  it('trusts exactly the listed addresses and networks', () => {
    const trusted = list('127.0.0.1,10.1.0.0/16,fd00::/8');
    expect(isTrusted('127.0.0.1', trusted)).toBe(true);
    expect(isTrusted('::ffff:127.0.0.1', trusted)).toBe(true); // a dual-stack socket's spelling
    expect(isTrusted('10.1.255.3', trusted)).toBe(true);
    expect(isTrusted('fd00::1234', trusted)).toBe(true);
    for (const other of ['127.0.0.2', '10.2.0.1', 'fe80::1', '::1', '', 'garbage', '127.0.0.1/32']) expect(isTrusted(other, trusted), other).toBe(false);
    expect(isTrusted('127.0.0.1', [])).toBe(false);
  });

  it('matches each family only against its own rules', () => {
    const allV6 = list('::/0');
    expect(isTrusted('2001:db8::1', allV6)).toBe(true);
    for (const v4 of ['1.2.3.4', '::ffff:1.2.3.4', '127.0.0.1']) expect(isTrusted(v4, allV6), v4).toBe(false);
    const allV4 = list('0.0.0.0/0');
    expect(isTrusted('8.8.8.8', allV4)).toBe(true);
    expect(isTrusted('::1', allV4)).toBe(false);
  });

  it('takes the client from X-Forwarded-For only through trusted hops, right to left', () => {
    const trusted = list('127.0.0.1,10.0.0.0/8');
    // An untrusted peer's header is ignored: it is the client.
    expect(forwardedClient('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
    // A trusted peer without the header is the client itself.
    expect(forwardedClient('127.0.0.1', undefined, trusted)).toBe('127.0.0.1');
    expect(forwardedClient('127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    // A client that sends its own X-Forwarded-For to a proxy that appends cannot choose its address.
    expect(forwardedClient('127.0.0.1', '6.6.6.6, 198.51.100.1', trusted)).toBe('198.51.100.1');
    // Trusted hops in the chain are skipped.
    expect(forwardedClient('127.0.0.1', '198.51.100.1, 10.0.0.5', trusted)).toBe('198.51.100.1');
    // Garbage stops the walk at the last address that was believed.
    expect(forwardedClient('127.0.0.1', 'nonsense, 10.0.0.5', trusted)).toBe('10.0.0.5');
    expect(forwardedClient('127.0.0.1', '[2001:db8::1]:443', trusted)).toBe('2001:db8::1');
    expect(forwardedClient('127.0.0.1', '198.51.100.1:5555', trusted)).toBe('198.51.100.1');
    expect(forwardedClient('::ffff:127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
  });

  it('believes X-Forwarded-Proto only from a trusted peer', () => {
    const trusted = list('127.0.0.1');
    expect(forwardedProto('127.0.0.1', 'https', trusted)).toBe('https');
    expect(forwardedProto('127.0.0.1', 'HTTPS', trusted)).toBe('https');
    expect(forwardedProto('127.0.0.1', 'http, https', trusted)).toBe('https'); // the nearest proxy's word
    expect(forwardedProto('127.0.0.1', 'gopher', trusted)).toBeUndefined();
    expect(forwardedProto('127.0.0.1', undefined, trusted)).toBeUndefined();
    expect(forwardedProto('127.0.0.2', 'https', trusted)).toBeUndefined();
  });
});
