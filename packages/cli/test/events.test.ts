/**
 * Client.events reads SSE with eventsource-parser (issue 13 item 4): a real HTTP server writes the
 * stream in awkward chunks, and the CLI must see the same events Slipway meant to send.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, Client } from '../src/client';

let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  close = null;
});

/** Serves one SSE response; `write` gets the response and a promise that settles when the client hangs up. */
async function serve(write: (res: ServerResponse, gone: Promise<void>) => void | Promise<void>): Promise<Client> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    void write(res, new Promise((resolve) => res.on('close', () => resolve())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return new Client({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const tick = () => new Promise((r) => setTimeout(r, 5));

async function collect(client: Client, stopAt?: string): Promise<Array<[string, unknown]>> {
  const seen: Array<[string, unknown]> = [];
  await client.events('/events', (event, data) => {
    seen.push([event, data]);
    if (event === stopAt) return false;
  });
  return seen;
}

describe('Client.events', () => {
  it('reassembles events split anywhere, skipping heartbeats, retry hints and unnamed events', async () => {
    const stream =
      'retry: 2000\n\n: heartbeat\n\nevent: stage\ndata: {"stage":"build","progress":15}\n\n' +
      'data: {"unnamed":true}\n\nevent: log\nid: 7\ndata: {"line":"Step 1/4 : FROM node:20-slim"}\n\n: heartbeat\n\n' +
      'event: done\ndata: {"deploy":{"status":"succeeded"}}\n\n';
    const client = await serve(async (res) => {
      // 3-byte chunks cut through field names, the JSON and the blank lines.
      for (let i = 0; i < stream.length; i += 3) {
        res.write(stream.slice(i, i + 3));
        await tick();
      }
      res.end();
    });
    expect(await collect(client)).toEqual([
      ['stage', { stage: 'build', progress: 15 }],
      ['log', { line: 'Step 1/4 : FROM node:20-slim' }],
      ['done', { deploy: { status: 'succeeded' } }],
    ]);
  });

  it('reads CRLF line endings and data spread over several data lines', async () => {
    const client = await serve((res) => {
      res.end('event: log\r\ndata: {"line":\r\ndata: "a b"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n');
    });
    expect(await collect(client)).toEqual([
      ['log', { line: 'a b' }],
      ['done', {}],
    ]);
  });

  it('stops reading, and hangs up, when the handler returns false', async () => {
    let hungUp = false;
    const client = await serve(async (res, gone) => {
      res.write('event: log\ndata: {"n":1}\n\nevent: done\ndata: {"n":2}\n\nevent: log\ndata: {"n":3}\n\n');
      await gone;
      hungUp = true;
    });
    // The server never ends the stream: only the client's stop can return here.
    expect(await collect(client, 'done')).toEqual([
      ['log', { n: 1 }],
      ['done', { n: 2 }],
    ]);
    await expect.poll(() => hungUp).toBe(true);
  });

  it('says the stream broke when the connection is cut mid-event', async () => {
    const client = await serve((res) => {
      res.write('event: log\ndata: {"n":1}\n\nevent: log\ndata: {"n"');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const seen: unknown[] = [];
    const err = await client.events('/events', (_e, data) => void seen.push(data)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(/^The event stream broke/);
    expect(seen).toEqual([{ n: 1 }]);
  });
});
