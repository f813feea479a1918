/** Streams an archive to POST /api/deploys as multipart/form-data, reporting bytes sent. */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import type { Deploy } from '@slipway/contracts/deploy';
import { answer, unreachable, type Client } from './client';

export async function uploadArchive(
  client: Client,
  file: string,
  fields: { app?: string | undefined; version?: string | undefined; fileName?: string | undefined },
  onProgress: (sent: number, total: number) => void,
): Promise<Deploy> {
  const boundary = `slipway${randomBytes(12).toString('hex')}`;
  const parts = Object.entries({ app: fields.app, version: fields.version })
    .filter(([, v]) => v)
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  const name = (fields.fileName ?? path.basename(file)).replace(/["\r\n]/g, '_');
  const head = Buffer.from(`${parts}--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = (await stat(file)).size;
  const total = head.length + size + tail.length;
  const url = new URL(`${client.config.url}/api/deploys`);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<Deploy>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: client.headers({ 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(total) }),
    });
    req.on('error', (err) => reject(unreachable(client.config.url, { cause: err })));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        answer<{ deploy: Deploy }>(new Response(body, { status: res.statusCode ?? 500 })).then((r) => resolve(r.deploy), reject);
      });
    });
    let sent = 0;
    req.write(head);
    sent += head.length;
    const source = createReadStream(file, { highWaterMark: 256 * 1024 });
    source.on('data', (chunk) => {
      sent += chunk.length;
      onProgress(sent, total);
      if (!req.write(chunk)) {
        source.pause();
        req.once('drain', () => source.resume());
      }
    });
    source.on('end', () => {
      req.end(tail);
      onProgress(total, total);
    });
    source.on('error', reject);
  });
}
