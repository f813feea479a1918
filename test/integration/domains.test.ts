/**
 * Custom domains (issue 16, SPEC §4): an app answers on its own host names through the gateway, beside
 * `<app>.<SLIPWAY_DOMAIN>`; a domain belongs to one app (409 `domain_taken`, nothing changed), moves when
 * the settings change, and is free again once its app is deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { printProblemsOnFailure, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
printProblemsOnFailure(() => slipway);

beforeAll(async () => {
  slipway = await startSlipway();
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
});
afterAll(async () => {
  await slipway?.stop();
});

const answer = async (host: string) => {
  const res = await viaGateway(slipway.gatewayUrl, host);
  return `${res.status} ${res.text.trim()}`;
};

describe('custom domains', () => {
  it('refuses what is not a host name of its own', async () => {
    for (const domain of ['http://shop.example.com', 'shop', '*.example.com', 'shop..example.com', 'shop.example.com/path', '-shop.example.com', 'shop.localhost', 'localhost']) {
      const res = await call(slipway.url, 'PUT', '/api/apps/hello', { domains: [domain] });
      expect(res.status, domain).toBe(400);
    }
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { domains: ['a.example.com', 'A.example.com'] })).status).toBe(400);
  });

  it('routes a domain to its app through the gateway, as typed in any case and with a port', async () => {
    const res = await call(slipway.url, 'PUT', '/api/apps/hello', { domains: ['Shop.Example.com'] });
    expect(res.status).toBe(200);
    expect(res.body.app.settings.domains).toEqual(['shop.example.com']);
    await expect.poll(() => answer('shop.example.com')).toBe('200 hello 1.0.0');
    expect(await answer('SHOP.example.com:8443')).toBe('200 hello 1.0.0');
    expect(await answer('hello.localhost')).toBe('200 hello 1.0.0');
    expect((await answer('other.example.com')).startsWith('404')).toBe(true);
  });

  it('gives a domain to one app only, and changes nothing for the one that asked second', async () => {
    const taken = await call(slipway.url, 'PUT', '/api/apps/other', { domains: ['www.example.org', 'shop.example.com'] });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('domain_taken');
    expect(taken.body.error.message).toMatch(/shop\.example\.com already belongs to the app hello/);
    expect((await call(slipway.url, 'GET', '/api/apps/other')).status).toBe(404);
    // Nothing of the refused claim was kept: the other domain is still free.
    expect((await call(slipway.url, 'PUT', '/api/apps/third', { domains: ['www.example.org'] })).status).toBe(201);
  });

  it('moves with the settings, and is free again once its app is deleted', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { domains: ['www.shop.example.com'] })).status).toBe(200);
    await expect.poll(() => answer('www.shop.example.com')).toBe('200 hello 1.0.0');
    expect((await answer('shop.example.com')).startsWith('404')).toBe(true);
    expect((await call(slipway.url, 'PUT', '/api/apps/third', { domains: ['www.example.org', 'shop.example.com'] })).status).toBe(200);

    expect((await call(slipway.url, 'DELETE', '/api/apps/hello?confirm=hello')).status).toBe(200);
    await expect.poll(async () => (await answer('www.shop.example.com')).slice(0, 3)).toBe('404');
    expect((await call(slipway.url, 'PUT', '/api/apps/third', { domains: ['www.shop.example.com'] })).status).toBe(200);
  });
});
