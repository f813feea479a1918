/** A small client for the HTTP API, as curl or the CLI would use it, with the instance's admin token. */
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Deploy } from '@slipway/contracts/deploy';
import { createParser } from 'eventsource-parser';

/** Base URL → API token, filled in by startSlipway; requests to a known base carry its token. */
export const tokens = new Map<string, string>();

export function authHeaders(url: string): Record<string, string> {
  const base = [...tokens.keys()].find((b) => url.startsWith(b));
  return base ? { authorization: `Bearer ${tokens.get(base)}` } : {};
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...authHeaders(base), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export async function upload(
  base: string,
  archive: Buffer,
  fileName: string,
  fields: Record<string, string> = {},
): Promise<Answer<{ deploy: Deploy; error?: { code: string; message: string } }>> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('archive', new Blob([archive]), fileName);
  const res = await fetch(`${base}/api/deploys`, { method: 'POST', body: form, headers: authHeaders(base), signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: (await res.json()) as { deploy: Deploy; error?: { code: string; message: string } }, headers: res.headers };
}

export async function waitForDeploy(base: string, id: string, timeoutMs = 170_000): Promise<Deploy> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await call<{ deploy: Deploy }>(base, 'GET', `/api/deploys/${id}`);
    // 503 while Redis is away (fault tests): the deploy is still going, ask again.
    if (status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (body.deploy.status === 'succeeded' || body.deploy.status === 'failed') return body.deploy;
    if (Date.now() > deadline) throw new Error(`deploy ${id} still ${body.deploy.status} at ${body.deploy.stage}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until deploy `id` reaches `stage` (polling every 20 ms, so short stages are seen); returns the stage it is at. */
export async function waitForStage(base: string, id: string, stage: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call<{ deploy: Deploy }>(base, 'GET', `/api/deploys/${id}`);
    if (body.deploy.stage === stage || Date.now() > deadline) return body.deploy.stage;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET with a hard timeout (a just-published port can accept and never answer). */
export function get(url: string, timeoutMs = 3000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url} timed out`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}

/** A request to the gateway naming the app in the Host header (fetch cannot set Host). */
export function viaGateway(gatewayUrl: string, host: string, path = '/', agent?: Agent): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  const url = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { host }, agent: agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A request to the gateway's HTTPS port for `host` (sent as SNI and Host), trusting only `ca`: with a new
 * connection each time (a new handshake), unless an agent is given. Answers with the certificate it was served.
 */
export function viaHttps(
  port: number,
  host: string,
  ca: string | string[],
  path = '/',
  agent: HttpsAgent | false = false,
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: host, path, headers: { host }, ca, agent }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers, cert }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export interface SseEvent {
  event: string;
  id?: string | undefined;
  /** The data field as JSON. */
  data: any;
  /** When the chunk carrying it arrived (ms since the epoch). */
  receivedAt: number;
}

/**
 * Follows an SSE stream (the same kept parser as the CLI, eventsource-parser) and hands each named event
 * to `on`, until the stream ends, `signal` aborts it, or `on` returns false. Resolves either way.
 */
export async function followSse(url: string, on: (e: SseEvent) => boolean | void, signal?: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(url), signal });
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  }
  if (res.status !== 200) throw new Error(`SSE ${url} answered ${res.status}: ${await res.text()}`);
  let stopped = false;
  let receivedAt = Date.now();
  const parser = createParser({
    onEvent: ({ event, id, data }) => {
      if (!stopped && event) stopped = on({ event, id, data: JSON.parse(data || 'null'), receivedAt }) === false;
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      receivedAt = Date.now();
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (stopped) return;
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}

/** Reads an SSE stream until it ends (or the timeout), returning its events. */
export async function readSse(url: string, timeoutMs = 30_000): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  await followSse(url, (e) => void events.push(e), signal);
  return events;
}
