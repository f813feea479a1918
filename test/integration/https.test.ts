/**
 * HTTPS from Slipway's own CA (issue 16, SPEC §1 SLIPWAY_TLS=internal): the gateway answers every app's
 * names over HTTPS with a certificate naming them, signed by a CA kept under the data dir (0600) whose root
 * anyone signed in can download; `httpsRedirect` sends plain HTTP there; a renewal under load fails no
 * request. Certificates here live 43 s, so a renewal comes within the test.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, viaHttps, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { printProblemsOnFailure, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let ca: string;
printProblemsOnFailure(() => slipway);

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_TLS: 'internal', SLIPWAY_TLS_INTERNAL_DAYS: '0.0005' } });
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  expect((await call(slipway.url, 'PUT', '/api/apps/hello', { domains: ['shop.example.test'] })).status).toBe(200);
});
afterAll(async () => {
  await slipway?.stop();
});

const certificates = async () => (await call(slipway.url, 'GET', '/api/apps/hello/certificates')).body;

describe('HTTPS from the internal CA', () => {
  it('gives out its root to users signed in, and keeps its key where only Slipway reads it', async () => {
    const res = await fetch(`${slipway.url}/api/tls/ca.pem`, { headers: slipway.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-pem-file/);
    ca = await res.text();
    const root = new X509Certificate(ca);
    expect(root.ca).toBe(true);
    expect(root.subject).toMatch(/Slipway local CA/);
    expect((await fetch(`${slipway.url}/api/tls/ca.pem`)).status).toBe(401);

    const dir = path.join(slipway.dataDir, 'tls');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of ['ca.pem', 'ca-key.pem']) expect((await stat(path.join(dir, file))).mode & 0o777, file).toBe(0o600);
    expect(await readFile(path.join(dir, 'ca.pem'), 'utf8')).toBe(ca);
  });

  it('answers a custom domain and <app>.<SLIPWAY_DOMAIN> with a certificate naming each', async () => {
    await expect.poll(async () => (await certificates()).certificates.map((c: { name: string; state: string }) => `${c.name} ${c.state}`)).toEqual([
      'hello.localhost valid',
      'shop.example.test valid',
    ]);
    for (const host of ['shop.example.test', 'hello.localhost']) {
      const res = await viaHttps(slipway.httpsPort, host, ca);
      expect(`${res.status} ${res.text.trim()}`).toBe('200 hello 1.0.0');
      expect(res.cert.subjectaltname).toBe(`DNS:${host}`);
    }
    const status = await certificates();
    expect(status.tls).toBe('internal');
    expect(status.httpsPort).toBe(slipway.httpsPort);
    expect(status.certificates[1].issuer).toBe('internal');
    expect(Date.parse(status.certificates[1].notAfter)).toBeGreaterThan(Date.now());
  });

  it('refuses the handshake for a name no app answers on, and for a client that does not trust the CA', async () => {
    await expect(viaHttps(slipway.httpsPort, 'nobody.example.test', ca)).rejects.toThrow();
    await expect(viaHttps(slipway.httpsPort, 'shop.example.test', [])).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('sends plain HTTP to HTTPS with httpsRedirect, keeping the path, and stops when it is turned off', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { httpsRedirect: true })).status).toBe(200);
    await expect.poll(async () => (await viaGateway(slipway.gatewayUrl, 'shop.example.test', '/a/b?c=1')).status).toBe(308);
    const res = await viaGateway(slipway.gatewayUrl, 'shop.example.test:80', '/a/b?c=1');
    expect(res.headers.location).toBe(`https://shop.example.test:${slipway.httpsPort}/a/b?c=1`);
    expect((await viaHttps(slipway.httpsPort, 'shop.example.test', ca)).status).toBe(200);

    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { httpsRedirect: false })).status).toBe(200);
    await expect.poll(async () => (await viaGateway(slipway.gatewayUrl, 'shop.example.test')).status).toBe(200);
  });

  it('renews a certificate before it expires without failing a request, a new handshake each time', async () => {
    const first = await viaHttps(slipway.httpsPort, 'shop.example.test', ca);
    const serials = new Set([first.cert.serialNumber]);
    const failures: string[] = [];
    let requests = 0;
    const until = Date.now() + 60_000;
    while (serials.size < 2 && Date.now() < until) {
      const batch = await Promise.allSettled(Array.from({ length: 4 }, () => viaHttps(slipway.httpsPort, 'shop.example.test', ca)));
      for (const r of batch) {
        requests++;
        if (r.status === 'rejected') failures.push(String(r.reason));
        else if (r.value.status !== 200) failures.push(`status ${r.value.status}`);
        else serials.add(r.value.cert.serialNumber);
      }
    }
    expect(serials.size).toBe(2);
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    const renewed = (await certificates()).certificates.find((c: { name: string }) => c.name === 'shop.example.test');
    expect(Date.parse(renewed.notAfter)).toBeGreaterThan(Date.parse(first.cert.valid_to));
  });

  it('keeps its CA across a gateway restart, and never writes a key to its log or an answer', async () => {
    await slipway.restartGateway();
    const res = await fetch(`${slipway.url}/api/tls/ca.pem`, { headers: slipway.auth });
    expect(await res.text()).toBe(ca);
    expect((await viaHttps(slipway.httpsPort, 'shop.example.test', ca)).status).toBe(200);

    const key = await readFile(path.join(slipway.dataDir, 'tls', 'ca-key.pem'), 'utf8');
    const log = await readFile(slipway.logFile, 'utf8');
    expect(log).toMatch(/certificate issued/);
    expect(log).not.toMatch(/PRIVATE KEY/);
    expect(log).not.toContain(key.split('\n')[1]);
    expect(JSON.stringify(await certificates())).not.toMatch(/BEGIN/);
  });

  it('drops the certificate of a domain the app gives up', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/hello', { domains: [] })).status).toBe(200);
    await expect.poll(async () => viaHttps(slipway.httpsPort, 'shop.example.test', ca).then(() => 'served', () => 'refused')).toBe('refused');
    expect((await certificates()).certificates.map((c: { name: string }) => c.name)).toEqual(['hello.localhost']);
  });
});
