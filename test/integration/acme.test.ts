/**
 * HTTPS from an ACME CA (issue 16, SPEC §1 SLIPWAY_TLS=acme), against Debian's pebble: a real RFC 8555
 * server on loopback that validates HTTP-01 by fetching the answer from the gateway's HTTP port, at the
 * address its DNS (pebble-challtestsrv) gives for the domain. No name is validated any other way.
 */
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, viaHttps, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { startPebble, type Pebble } from '../helpers/pebble';
import { printProblemsOnFailure, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let pebble: Pebble;
let acmeRoot: string;
printProblemsOnFailure(() => slipway);

beforeAll(async () => {
  const gatewayPort = await getPort();
  pebble = await startPebble(gatewayPort);
  acmeRoot = pebble.root;
  slipway = await startSlipway({
    env: { SLIPWAY_GATEWAY_PORT: String(gatewayPort), SLIPWAY_TLS: 'acme', SLIPWAY_ACME_URL: pebble.url, SLIPWAY_ACME_CA_FILE: pebble.caFile },
  });
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
}, 120_000);

afterAll(async () => {
  await slipway?.stop();
  await pebble?.stop();
});

describe('HTTPS from an ACME CA (pebble)', () => {
  // Two names at once, and no contact e-mail: the two orders once both registered the account, and the CA
  // refused the second as an empty update.
  it('gets certificates for new custom domains by HTTP-01 and serves them, chained to the CA\'s root', async () => {
    const began = Date.now();
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { domains: ['shop.example.test', 'www.example.test'] })).status).toBe(200);
    await expect
      .poll(async () => (await call(slipway.url, 'GET', '/api/apps/hello/certificates')).body.certificates.map((c: { name: string; state: string; error?: string }) => `${c.name} ${c.state}${c.error ? ` ${c.error}` : ''}`), { timeout: 60_000, interval: 250 })
      .toEqual(['shop.example.test valid', 'www.example.test valid']);
    console.log(`[acme] from PUT domains to valid certificates: ${Date.now() - began} ms`);

    for (const host of ['shop.example.test', 'www.example.test']) {
      const res = await viaHttps(slipway.httpsPort, host, acmeRoot);
      expect(`${res.status} ${res.text.trim()}`).toBe('200 hello 1.0.0');
      expect(res.cert.subjectaltname).toBe(`DNS:${host}`);
      expect(res.cert.issuer.CN).toMatch(/Pebble Intermediate/);
    }
  });

  it('asks no ACME CA for names under localhost (none could validate them), and still serves them over HTTP', async () => {
    const status = (await call(slipway.url, 'GET', '/api/apps/hello/certificates')).body;
    expect(status.tls).toBe('acme');
    expect(status.certificates.map((c: { name: string }) => c.name)).toEqual(['shop.example.test', 'www.example.test']);
    await expect(viaHttps(slipway.httpsPort, 'hello.localhost', acmeRoot)).rejects.toThrow();
    expect((await viaGateway(slipway.gatewayUrl, 'hello.localhost')).status).toBe(200);
  });

  it('answers only the challenges it was given', async () => {
    const res = await viaGateway(slipway.gatewayUrl, 'shop.example.test', '/.well-known/acme-challenge/not-a-token');
    expect(res.status).toBe(404);
    expect((await viaGateway(slipway.gatewayUrl, 'shop.example.test', '/.well-known/acme-challenge/../../etc/passwd')).status).toBe(404);
  });
});
