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

  it('reads given values', () => {
    const s = loadSettings({ PORT: '9000', SLIPWAY_WEBHOOK_URLS: 'http://a/x, https://b/y', REDIS_URL: 'redis://127.0.0.1:6380' });
    expect(s.port).toBe(9000);
    expect(s.webhookUrls).toEqual(['http://a/x', 'https://b/y']);
    expect(s.redisUrl).toBe('redis://127.0.0.1:6380');
  });
});
