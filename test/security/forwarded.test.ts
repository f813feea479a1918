/**
 * The gateway writes X-Forwarded-For/-Proto/-Host itself (issue 12): a client's own X-Forwarded-*,
 * Forwarded and X-Real-IP never reach an app, so it cannot choose the address or scheme the app sees —
 * unless the peer is listed in SLIPWAY_TRUSTED_PROXIES, whose headers are kept and extended.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upload, waitForDeploy } from '../helpers/api';
import { tarOf } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

const ECHO = `require('node:http').createServer((req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify(req.headers))).listen(Number(process.env.PORT || 3000));`;

const SPOOFED = {
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'bank.example',
  'x-forwarded-port': '443',
  forwarded: 'for=6.6.6.6;proto=https;host=bank.example',
  'x-real-ip': '6.6.6.6',
  'x-client-ip': '6.6.6.6',
  'true-client-ip': '6.6.6.6',
};

/** The headers the echo app received for a request through the gateway. */
function echoed(headers: Record<string, string>): Promise<Record<string, string>> {
  const url = new URL(slipway.gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/', headers: { host: `echo.localhost:${url.port}`, ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode}: ${text}`))));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

// Setup waits for a whole Slipway and a deploy on a shared 2-core machine: more than the default hook time.
beforeAll(async () => {
  slipway = await startSlipway();
  const archive = await tarOf([
    { name: 'package.json', content: JSON.stringify({ name: 'echo', version: '1.0.0', scripts: { start: 'node server.js' } }) },
    { name: 'server.js', content: ECHO },
  ]);
  const res = await upload(slipway.url, archive, 'echo.tgz');
  const done = await waitForDeploy(slipway.url, res.body.deploy.id);
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
}, 400_000);
afterAll(async () => {
  await slipway?.stop();
});

describe('forwarding headers', () => {
  it('replaces what an untrusted client sent with what the gateway saw', async () => {
    const port = new URL(slipway.gatewayUrl).port;
    const seen = await echoed(SPOOFED);
    expect({
      for: seen['x-forwarded-for'],
      proto: seen['x-forwarded-proto'],
      host: seen['x-forwarded-host'],
    }).toEqual({ for: '127.0.0.1', proto: 'http', host: `echo.localhost:${port}` });
    for (const name of ['forwarded', 'x-real-ip', 'x-forwarded-port', 'x-client-ip', 'true-client-ip']) expect(seen[name], name).toBeUndefined();
    // Without any such header, the same.
    expect((await echoed({}))['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('keeps and extends the headers of a trusted proxy', async () => {
    slipway.env.SLIPWAY_TRUSTED_PROXIES = '127.0.0.1';
    await slipway.restartGateway();
    const seen = await echoed({ 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', forwarded: 'for=198.51.100.7;proto=https', 'x-real-ip': '198.51.100.7' });
    expect(seen).toMatchObject({
      'x-forwarded-for': '198.51.100.7, 127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example',
      forwarded: 'for=198.51.100.7;proto=https',
      'x-real-ip': '198.51.100.7',
    });
  });
});
