/**
 * The gateway: `<app>.<domain>` or an app's custom domain (Host header) → the app's current container (at its address on the app's
 * network, else its published port), with WebSocket upgrades, through undici connection pools (one per
 * upstream, kept alive). In-flight requests are counted per
 * upstream so a switch can drain the old one before its container stops.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import { isAppName } from '@slipway/contracts/names';
import type { TrustedProxies } from '@slipway/runtime/proxies';
import { forwardHeaders, HOP_BY_HOP } from './forwarded';
import { sendPage } from './pages';
import type { Route, RouteTable } from './route-table';
import type { TrafficCounter } from './traffic-meter';

export interface GatewayOptions {
  domain: string;
  /** Address the app ports are published on. */
  upstreamHost: string;
  /** SLIPWAY_TRUSTED_PROXIES: peers whose X-Forwarded-* and Forwarded headers are believed. */
  trustedProxies: TrustedProxies;
  /** With SLIPWAY_TLS on: where `httpsRedirect` apps are sent, and (acme) the HTTP-01 answers by token. */
  tls?: { httpsPort: number; challenge?: (token: string) => Promise<string | null> };
}

/** RFC 8555 §8.3: where an ACME CA fetches the answer to an HTTP-01 challenge. */
const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/** Methods that may be sent again when the first upstream refused the connection (nothing reached the app). */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);
const TIMEOUT_MS = 120_000;
/** Upstreams are on this machine: a connection not made by then will not be. */
const CONNECT_TIMEOUT_MS = 3_000;
/** Errors that mean the request never reached the app. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class Gateway {
  readonly server: Server;
  private readonly inflight = new Map<number, number>();
  private readonly waiters = new Map<number, Array<() => void>>();
  /** Per published port: the pool, and the origin it connects to (the container's address, or the port). */
  private readonly pools = new Map<number, { origin: string; pool: Pool }>();

  constructor(
    private readonly routes: RouteTable,
    private readonly traffic: TrafficCounter,
    private readonly opts: GatewayOptions,
  ) {
    this.server = createServer();
    this.serve(this.server);
  }

  /** Answers on `server` too: the HTTPS server shares everything with the HTTP one. */
  serve(server: Server | HttpsServer): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.web(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.upgrade(req, socket, head));
    server.keepAliveTimeout = 5_000;
  }

  /** The app a Host header names, or null: `shop.localhost:8081` → `shop`, or a custom domain's app. */
  appOf(req: IncomingMessage): string | null {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    const owner = this.routes.appForDomain(host);
    if (owner) return owner;
    const suffix = `.${this.opts.domain.toLowerCase()}`;
    if (!host.endsWith(suffix)) return null;
    const app = host.slice(0, -suffix.length);
    return isAppName(app) ? app : null;
  }

  inFlight(port: number): number {
    return this.inflight.get(port) ?? 0;
  }

  /** Resolves when no request is running on `port` any more (or after `timeoutMs`), then closes its pool. */
  async drained(port: number, timeoutMs: number): Promise<void> {
    if (this.inFlight(port)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        const list = this.waiters.get(port) ?? [];
        list.push(done);
        this.waiters.set(port, list);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    const held = this.pools.get(port);
    this.pools.delete(port);
    // A pool whose upstream is gone may fail to close cleanly; it is dropped either way.
    void held?.pool.close().catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map(({ pool }) => pool.close()));
  }

  private forward(req: IncomingMessage, upgrade = false): Record<string, string | string[]> {
    const proto = encrypted(req) ? 'https' : 'http';
    return forwardHeaders(req.headers, req.socket.remoteAddress ?? '', { trustedProxies: this.opts.trustedProxies, proto }, upgrade);
  }

  /**
   * Straight to the container on its app network when its address is known: the engine's userland proxy
   * on the published port costs as much as the gateway itself. An address cannot point at another app's
   * container, because each app has a network (and subnet) of its own.
   */
  private pool(route: Route): Pool {
    const origin = route.address ? `http://${route.address}` : `http://${this.opts.upstreamHost}:${route.port}`;
    const held = this.pools.get(route.port);
    if (held?.origin === origin) return held.pool;
    // The container ran again elsewhere, or its address was given up: what still runs on the old pool finishes there.
    void held?.pool.close().catch(() => {});
    const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 4_000, connectTimeout: CONNECT_TIMEOUT_MS, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    this.pools.set(route.port, { origin, pool });
    return pool;
  }

  private enter(port: number): () => void {
    this.inflight.set(port, this.inFlight(port) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const n = this.inFlight(port) - 1;
      if (n > 0) return void this.inflight.set(port, n);
      this.inflight.delete(port);
      for (const resolve of this.waiters.get(port) ?? []) resolve();
      this.waiters.delete(port);
    };
  }

  private async web(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const began = performance.now();
    const host = req.headers.host ?? '';
    const tls = this.opts.tls;
    if (tls?.challenge && !encrypted(req) && req.url?.startsWith(CHALLENGE_PATH)) return this.answerChallenge(tls.challenge, req, res);
    const app = this.appOf(req);
    if (!app || !this.routes.has(app)) return sendPage(res, 404, host);
    if (tls && !encrypted(req) && this.routes.redirectsToHttps(app)) return redirectToHttps(req, res, tls.httpsPort);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    for (let attempt = 1; ; attempt++) {
      const route = this.routes.get(app);
      if (!route) {
        this.traffic.record(app, 503, performance.now() - began);
        return sendPage(res, 503, host);
      }
      const leave = this.enter(route.port);
      try {
        // undici's stream API writes the answer straight into the response: no intermediate stream.
        let status = 0;
        await this.pool(route).stream(
          { path: req.url ?? '/', method: req.method as 'GET', headers: this.forward(req), body: hasBody ? req : null },
          ({ statusCode, headers }) => {
            status = statusCode;
            res.writeHead(statusCode, responseHeaders(headers));
            return res;
          },
        );
        this.traffic.record(app, status, performance.now() - began);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        const notReached = NOT_REACHED.has(code);
        // An address that cannot be reached is stale (the container ran again before the worker saw it).
        if (notReached && route.address) this.routes.forgetAddress(app, route.address);
        // A request that never reached the app may go again: during a switch the old upstream may just have
        // closed, and a stale address has just been given up.
        if (attempt === 1 && !hasBody && RETRYABLE.has(req.method ?? '') && notReached && !res.headersSent) {
          if (!route.address) await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        if (!res.headersSent) {
          this.traffic.record(app, 502, performance.now() - began);
          sendPage(res, 502, host);
        } else res.destroy();
        return;
      } finally {
        leave();
      }
    }
  }

  private async answerChallenge(challenge: (token: string) => Promise<string | null>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = (req.url ?? '').slice(CHALLENGE_PATH.length);
    const answer = /^[A-Za-z0-9_-]{1,256}$/.test(token) ? await challenge(token).catch(() => null) : null;
    res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(answer ?? 'no such challenge');
  }

  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const app = this.appOf(req);
    const route = app ? this.routes.get(app) : undefined;
    if (!route) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const leave = this.enter(route.port);
    socket.once('close', leave);
    try {
      const upstream = await this.pool(route).upgrade({
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: this.forward(req, true),
        protocol: req.headers.upgrade ?? 'websocket',
      });
      const lines = ['HTTP/1.1 101 Switching Protocols'];
      for (const [name, value] of Object.entries(upstream.headers)) {
        for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.socket.write(head);
      upstream.socket.on('error', () => socket.destroy());
      socket.on('close', () => upstream.socket.destroy());
      upstream.socket.pipe(socket).pipe(upstream.socket);
    } catch (err) {
      if (route.address && NOT_REACHED.has((err as NodeJS.ErrnoException).code ?? '')) this.routes.forgetAddress(app!, route.address);
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }
}

function encrypted(req: IncomingMessage): boolean {
  return (req.socket as Socket & { encrypted?: boolean }).encrypted === true;
}

/** 308 keeps the method and body, where 301 lets clients turn a POST into a GET. */
function redirectToHttps(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  res.writeHead(308, { location: `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url ?? '/'}`, 'content-length': '0' });
  res.end();
}

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}
