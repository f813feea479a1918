import { describe, expect, it } from 'vitest';
import { forwardHeaders } from '../src/forwarded';

const spoofed = {
  host: 'shop.localhost:8081',
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'bank.example',
  'x-forwarded-port': '443',
  forwarded: 'for=6.6.6.6',
  'x-real-ip': '6.6.6.6',
  'true-client-ip': '6.6.6.6',
  accept: 'text/html',
  connection: 'keep-alive, x-drop-me',
  'x-drop-me': '1',
};

describe('headers the gateway forwards (issue 12)', () => {
  it('writes its own X-Forwarded-* for an untrusted peer and drops every client claim', () => {
    expect(forwardHeaders(spoofed, '203.0.113.5', { trustedProxies: [], proto: 'http' })).toEqual({
      host: 'shop.localhost:8081',
      accept: 'text/html',
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.localhost:8081',
    });
  });

  it('spells a dual-stack IPv4 peer plainly, and says https for a TLS socket', () => {
    const out = forwardHeaders({ host: 'a.localhost' }, '::ffff:127.0.0.1', { trustedProxies: [], proto: 'https' });
    expect(out).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'https' });
  });

  it('keeps and extends what a trusted proxy sent', () => {
    const out = forwardHeaders(spoofed, '10.0.0.2', { trustedProxies: ['10.0.0.0/8'], proto: 'http' });
    expect(out).toMatchObject({
      'x-forwarded-for': '6.6.6.6, 10.0.0.2',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'bank.example',
      'x-forwarded-port': '443',
      forwarded: 'for=6.6.6.6',
      'x-real-ip': '6.6.6.6',
    });
    expect(out['x-drop-me']).toBeUndefined();
  });
});
