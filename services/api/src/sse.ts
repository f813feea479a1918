/**
 * Server-sent events on Koa: heartbeats keep proxies from closing an idle stream, the server drops its
 * side as soon as the client goes, and streams are capped per client address and in total (SPEC §4).
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { AppError } from './errors';

export interface SseLimits {
  total: number;
  perClient: number;
  heartbeatMs: number;
}

export const DEFAULT_SSE_LIMITS: SseLimits = { total: 2000, perClient: 200, heartbeatMs: 15_000 };

export interface SseStream {
  send(event: string, data: unknown, id?: string): void;
  /** Text already in SSE form (`event: …\ndata: …\n\n`), shared between clients. */
  sendRaw(text: string): void;
  close(): void;
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

export class SseHub {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly limits: SseLimits = DEFAULT_SSE_LIMITS) {}

  get count(): number {
    return this.total;
  }

  /** Takes over the response; throws 429/503 before writing anything when a cap is reached. */
  open(ctx: Context): SseStream {
    const client = ctx.ip || 'unknown';
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.perClient) {
      throw new AppError(429, 'too_many_requests', `Too many open event streams from this client (limit ${this.limits.perClient})`, {
        'Retry-After': '5',
      });
    }
    if (this.total >= this.limits.total) {
      throw new AppError(503, 'too_many_requests', `Too many open event streams (limit ${this.limits.total}); retry shortly`, {
        'Retry-After': '5',
      });
    }
    this.total++;
    this.perClient.set(client, mine + 1);

    const body = new PassThrough();
    const closers: Array<() => void> = [];
    let closed = false;
    const heartbeat = setInterval(() => body.write(': heartbeat\n\n'), this.limits.heartbeatMs);

    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
      for (const fn of closers.splice(0)) fn();
      body.end();
    };

    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.req.on('close', close);
    ctx.status = 200;
    ctx.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    ctx.body = body;
    body.write('retry: 2000\n\n');

    return {
      send(event, data, id) {
        if (closed) return;
        const lines = [`event: ${event}`];
        if (id) lines.push(`id: ${id}`);
        lines.push(`data: ${JSON.stringify(data)}`);
        body.write(`${lines.join('\n')}\n\n`);
      },
      sendRaw(text) {
        if (!closed) body.write(text);
      },
      close,
      onClose(fn) {
        if (closed) fn();
        else closers.push(fn);
      },
      get closed() {
        return closed;
      },
    };
  }
}
