import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetRefusedError } from '@slipway/runtime/webhook-target';
import { post } from '../src/after-switch/webhooks';

const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c));
  req.on('end', () => {
    seen.push({ url: req.url ?? '', headers: req.headers, body });
    res.writeHead(req.url === '/moved' ? 302 : 204, { location: 'http://169.254.169.254/' }).end();
  });
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(() => receiver.close());

describe('webhook delivery (issue 12)', () => {
  it('delivers to a private target when allowed, sending userinfo as Basic auth and never following a redirect', async () => {
    expect(await post(`http://hook:s%40cret@localhost:${port}/in?token=1`, { 'x-test': '1' }, '{"a":1}', true)).toBe(204);
    expect(seen.at(-1)).toMatchObject({ url: '/in?token=1', body: '{"a":1}', headers: { 'x-test': '1', authorization: `Basic ${Buffer.from('hook:s@cret').toString('base64')}` } });
    expect(await post(`http://127.0.0.1:${port}/moved`, {}, '{}', true)).toBe(302);
    expect(seen.at(-1)?.url).toBe('/moved');
  });

  it('refuses loopback, named or literal, when private targets are not allowed, before connecting', async () => {
    const before = seen.length;
    for (const host of ['localhost', '127.0.0.1', '[::ffff:127.0.0.1]', 'localhost.']) {
      await expect(post(`http://${host}:${port}/in`, {}, '{}', false), host).rejects.toBeInstanceOf(TargetRefusedError);
    }
    expect(seen.length).toBe(before);
  });
});
