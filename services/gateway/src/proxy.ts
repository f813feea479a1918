/**
 * The gateway: `<app>.<domain>` (Host header) → the app's current container, with WebSocket upgrades.
 * In-flight requests are counted per upstream so a switch can drain the old one before it stops.
 */
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import { isAppName } from '@slipway/contracts/names';
import { sendPage } from './pages';
import type { RouteTable } from './routes';
import type { TrafficCounter } from './traffic';

export interface GatewayOptions {
  domain: string;
  /** Address the app ports are published on. */
  upstreamHost: string;
}

/** Methods that may be sent again when the first upstream refused the connection (nothing reached the app). */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Gateway {
  readonly server: Server;
  private readonly inflight = new Map<number, number>();
  private readonly waiters = new Map<number, Array<() => void>>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
  private readonly proxy = createProxyServer({ xfwd: true, ws: true, proxyTimeout: 120_000, agent: undefined });

  constructor(
    private readonly routes: RouteTable,
    private readonly traffic: TrafficCounter,
    private readonly opts: GatewayOptions,
  ) {
    this.server = createServer((req, res) => this.web(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
    this.server.keepAliveTimeout = 5_000;
    // Errors are handled per request (callbacks below); this keeps a stray one from crashing the process.
    this.proxy.on('error', () => {});
  }

  /** The app a Host header names, or null: `shop.localhost:8081` → `shop`. */
  appOf(req: IncomingMessage): string | null {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    const suffix = `.${this.opts.domain.toLowerCase()}`;
    if (!host.endsWith(suffix)) return null;
    const app = host.slice(0, -suffix.length);
    return isAppName(app) ? app : null;
  }

  inFlight(port: number): number {
    return this.inflight.get(port) ?? 0;
  }

  /** Resolves when no request is running on `port` any more, or after `timeoutMs`. */
  drained(port: number, timeoutMs: number): Promise<void> {
    if (!this.inFlight(port)) return Promise.resolve();
    return new Promise((resolve) => {
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

  private web(req: IncomingMessage, res: ServerResponse, retried = false): void {
    const began = performance.now();
    const host = req.headers.host ?? '';
    const app = this.appOf(req);
    if (!app || !this.routes.has(app)) return sendPage(res, 404, host);
    const route = this.routes.get(app);
    if (!route) {
      this.traffic.record(app, 503, performance.now() - began);
      return sendPage(res, 503, host);
    }
    const leave = this.enter(route.port);
    res.once('close', () => {
      leave();
      if (!retriedAway) this.traffic.record(app, res.statusCode, performance.now() - began);
    });
    let retriedAway = false;
    this.proxy.web(req, res, { target: { host: this.opts.upstreamHost, port: route.port }, agent: this.agent }, (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      // A refused connection never reached the app: during a switch the old upstream may just have closed.
      if (!retried && RETRYABLE.has(req.method ?? '') && (code === 'ECONNREFUSED' || code === 'ECONNRESET') && !res.headersSent) {
        retriedAway = true;
        leave();
        setTimeout(() => this.web(req, res, true), 50);
        return;
      }
      sendPage(res, 502, host);
    });
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const app = this.appOf(req);
    const route = app ? this.routes.get(app) : undefined;
    if (!route) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const leave = this.enter(route.port);
    socket.once('close', leave);
    socket.on('error', () => {});
    this.proxy.ws(req, socket, head, { target: { host: this.opts.upstreamHost, port: route.port } }, () => socket.destroy());
  }
}
