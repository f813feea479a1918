import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config';
import { isInternalAddress, publicOnlyLookup, refusedTarget } from '../src/webhook-target';

describe('webhook targets (issue 12)', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a00:1', '64:ff9b::a00:1', '[::1]', 'not-an-ip',
  ])('%s is internal', (ip) => expect(isInternalAddress(ip)).toBe(true));

  it.each(['8.8.8.8', '172.32.0.1', '172.15.255.255', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('%s is public', (ip) =>
    expect(isInternalAddress(ip)).toBe(false),
  );

  it.each([
    'http://127.0.0.1:9000/hook', 'http://localhost/x', 'http://api.localhost/x', 'http://[::1]/x', 'http://2130706433/', 'http://0x7f.1/',
    'http://[::ffff:127.0.0.1]/', 'http://0/', 'https://169.254.169.254/latest/meta-data', 'http://10.0.0.5/h', 'http://LOCALHOST./x',
  ])('refuses %s as written', (url) => expect(refusedTarget(url)).toMatch(/.+/));

  it.each(['https://hooks.example.com/x?token=1', 'http://8.8.8.8/h', 'https://[2606:4700::1111]/h', 'https://internal.example.com/'])(
    'lets %s through until it is resolved',
    (url) => expect(refusedTarget(url)).toBeNull(),
  );

  it('refuses a name that resolves to loopback, with or without all addresses asked for', async () => {
    for (const all of [false, true]) {
      const err = await new Promise<Error | null>((resolve) => publicOnlyLookup('localhost', { all }, (e) => resolve(e)));
      expect(err?.message).toMatch(/localhost resolves to .*loopback/);
    }
  });

  it('refuses a global webhook on a literal internal address at start, unless private targets are allowed', () => {
    const env = { SLIPWAY_WEBHOOK_URLS: 'https://hooks.example.com/a, http://127.0.0.1:9/x?token=sekrit' };
    expect(() => loadSettings(env)).toThrow(SettingsError);
    expect(() => loadSettings(env)).toThrow(/SLIPWAY_WEBHOOK_URLS: http:\/\/127\.0\.0\.1:9\/x\?••••••••/);
    expect(() => loadSettings(env)).not.toThrow(/sekrit/);
    expect(loadSettings({ ...env, SLIPWAY_WEBHOOK_ALLOW_PRIVATE: 'true' }).webhookAllowPrivate).toBe(true);
    expect(loadSettings({}).webhookAllowPrivate).toBe(false);
    expect(() => loadSettings({ SLIPWAY_WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/SLIPWAY_WEBHOOK_ALLOW_PRIVATE="yes"/);
  });

  it('names a bad credential-bearing setting without echoing it', () => {
    expect(() => loadSettings({ REDIS_URL: 'http://:hunter2@redis:6379' })).toThrow(/REDIS_URL=\(26 characters, not shown\)/);
    expect(() => loadSettings({ REDIS_URL: 'http://:hunter2@redis:6379' })).not.toThrow(/hunter2/);
  });
});
