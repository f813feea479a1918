import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config';

describe('settings (SPEC §1)', () => {
  it('has the documented defaults', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      gatewayPort: 8081,
      domain: 'localhost',
      redisUrl: undefined,
      bind: '127.0.0.1',
      concurrency: 2,
      keepVersions: 5,
      healthTimeoutMs: 30_000,
      maxUploadBytes: 512 * 1024 * 1024,
      maxUnpackedBytes: 2048 * 1024 * 1024,
      maxFiles: 100_000,
      imagePrefix: 'slipway/',
      buildTimeoutMs: 900_000,
      watchMs: 20_000,
      stopGraceS: 10,
      orchestrator: 'docker',
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('stops on a bad value and names every bad setting', () => {
    let error: unknown;
    try {
      loadSettings({ PORT: 'eighty', SLIPWAY_CONCURRENCY: '0', SLIPWAY_IMAGE_PREFIX: 'Bad', REDIS_URL: 'http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'SLIPWAY_CONCURRENCY', 'SLIPWAY_IMAGE_PREFIX', 'REDIS_URL']) expect(message).toContain(name);
  });

  it('limits builds and carves networks by default, and refuses bad limits (issue 12)', () => {
    expect(loadSettings({})).toMatchObject({ buildMemoryBytes: 2048 * 1024 * 1024, buildCpus: 2, buildPids: 1024, networkPool: '10.213.0.0/16' });
    expect(loadSettings({ SLIPWAY_BUILD_CPUS: '1.5', SLIPWAY_NETWORK_POOL: '192.168.64.0/20' })).toMatchObject({ buildCpus: 1.5, networkPool: '192.168.64.0/20' });
    for (const [name, value] of [['SLIPWAY_BUILD_MEMORY_MB', '0'], ['SLIPWAY_BUILD_CPUS', 'two'], ['SLIPWAY_BUILD_PIDS', '-1'], ['SLIPWAY_NETWORK_POOL', '10.0.0.0/28'], ['SLIPWAY_NETWORK_POOL', '300.1.0.0/16']]) {
      expect(() => loadSettings({ [name!]: value })).toThrow(name);
    }
  });

  it('serves HTTPS only when asked, and checks its settings (issue 16)', () => {
    expect(loadSettings({})).toMatchObject({ tls: 'off', httpsPort: 8443, tlsInternalMs: 90 * 24 * 3600_000, acmeUrl: 'https://acme-v02.api.letsencrypt.org/directory', acmeEmail: undefined });
    expect(loadSettings({ SLIPWAY_TLS: 'acme', SLIPWAY_ACME_URL: 'https://localhost:14000/dir', SLIPWAY_ACME_EMAIL: 'ops@example.com' })).toMatchObject({ tls: 'acme', acmeUrl: 'https://localhost:14000/dir', acmeEmail: 'ops@example.com' });
    expect(loadSettings({ SLIPWAY_TLS_INTERNAL_DAYS: '0.5' }).tlsInternalMs).toBe(12 * 3600_000);
    for (const [name, value] of [['SLIPWAY_TLS', 'on'], ['SLIPWAY_ACME_URL', 'ftp://x'], ['SLIPWAY_ACME_EMAIL', 'ops'], ['SLIPWAY_TLS_INTERNAL_DAYS', '400'], ['SLIPWAY_HTTPS_PORT', '0']]) {
      expect(() => loadSettings({ [name!]: value })).toThrow(name);
    }
  });

  it('takes registry credentials only as a pair and with a registry (issue 17)', () => {
    expect(loadSettings({}).registryAuth).toBeUndefined();
    const s = loadSettings({ SLIPWAY_REGISTRY: 'registry.example.com:5000/team', SLIPWAY_REGISTRY_USER: 'deployer', SLIPWAY_REGISTRY_PASSWORD: 'pa55-w0rd' });
    expect(s.registryAuth).toEqual({ username: 'deployer', password: 'pa55-w0rd' });
    expect(() => loadSettings({ SLIPWAY_REGISTRY: 'r.example.com', SLIPWAY_REGISTRY_USER: 'deployer' })).toThrow('set both or neither');
    expect(() => loadSettings({ SLIPWAY_REGISTRY_USER: 'deployer', SLIPWAY_REGISTRY_PASSWORD: 'pa55-w0rd' })).toThrow('needs SLIPWAY_REGISTRY');
  });

  it('reads given values', () => {
    const s = loadSettings({ PORT: '9000', SLIPWAY_WEBHOOK_URLS: 'http://a/x, https://b/y', REDIS_URL: 'redis://127.0.0.1:6380' });
    expect(s.port).toBe(9000);
    expect(s.webhookUrls).toEqual(['http://a/x', 'https://b/y']);
    expect(s.redisUrl).toBe('redis://127.0.0.1:6380');
  });
});
