/**
 * The gateway: `<app>.<domain>` or an app's custom domain (Host header) → the app's current containers (at
 * their address on the app's network, else their published port), with WebSocket upgrades, through undici
 * connection pools (one per upstream, kept alive). In-flight requests are counted per upstream, so a switch
 * can drain the old ones before their containers stop, and an app with several `instances` sends each
 * request to the container with the fewest. A container that cannot be connected to is taken out until a
 * connection to it succeeds again (checked every second).
 */
import { connect, type Socket } from 'node:net';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Pool } from 'undici';
import { isAppName } from '@slipway/contracts/names';
import type { TrustedProxies } from '@slipway/runtime/proxies';
import { forwardHeaders, HOP_BY_HOP } from './forwarded';
import { sendPage } from './pages';
import type { RouteTable, Upstream } from './route-table';
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
/**
 * Errors that cut the connection before an answer: through the engine's proxy on a published port, what a
 * container that is not listening (yet, or any more) looks like. With several instances, another one gets
 * the request (idempotent methods only) and this one is out of rotation until it answers.
 */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_DESTROYED']);
/** How often a container taken out of rotation is tried again. */
const PROBE_EVERY_MS = 1_000;

export class Gateway {
  readonly server: Server;
  /** Requests in flight per upstream (`keyOf`), to pick the least busy. */
  private readonly inflight = new Map<string, number>();
  /** And per published port, which is what a switch drains. */
  private readonly onPort = new Map<number, number>();
  private readonly waiters = new Map<number, Array<() => void>>();
  /** Per upstream: the pool, and the origin it connects to (the container's address, or the port). */
  private readonly pools = new Map<string, { origin: string; pool: Pool }>();
  /** Upstreams that could not be connected to: out of rotation until a connection succeeds. */
  private readonly down = new Map<string, Upstream>();
  private probing: NodeJS.Timeout | null = null;
  /** Under Swarm: a look at each node every second (see watchNodes). */
  private readonly watchingNodes: NodeJS.Timeout;
  /** Where ties start, so equally idle containers take turns. */
  private turn = 0;

  constructor(
    private readonly routes: RouteTable,
    private readonly traffic: TrafficCounter,
    private readonly opts: GatewayOptions,
  ) {
    this.server = createServer();
    this.serve(this.server);
    this.watchingNodes = setInterval(() => void this.watchNodes(), PROBE_EVERY_MS);
    this.watchingNodes.unref();
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
    return this.onPort.get(port) ?? 0;
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
    for (const [key, held] of this.pools) {
      if (!key.endsWith(`:${port}`)) continue;
      this.pools.delete(key);
      // A pool whose upstream is gone may fail to close cleanly; it is dropped either way.
      void held.pool.close().catch(() => {});
    }
    for (const key of this.down.keys()) if (key.endsWith(`:${port}`)) this.down.delete(key);
  }

  async close(): Promise<void> {
    if (this.probing) clearInterval(this.probing);
    clearInterval(this.watchingNodes);
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
  private pool(upstream: Upstream): Pool {
    const origin = this.origin(upstream);
    const held = this.pools.get(keyOf(upstream));
    if (held?.origin === origin) return held.pool;
    // The container ran again elsewhere, or its address was given up: what still runs on the old pool finishes there.
    void held?.pool.close().catch(() => {});
    const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 4_000, connectTimeout: CONNECT_TIMEOUT_MS, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    this.pools.set(keyOf(upstream), { origin, pool });
    return pool;
  }

  private origin(upstream: Upstream): string {
    return upstream.address ? `http://${upstream.address}` : `http://${upstream.node ?? this.opts.upstreamHost}:${upstream.port}`;
  }

  /**
   * The upstream with the fewest requests in flight among those in rotation, not yet `tried` by this request;
   * when every one is out, one of them anyway (it may be back: better an attempt than a certain 502).
   */
  private pick(upstreams: Upstream[], tried: ReadonlySet<string>): Upstream | undefined {
    const fresh = upstreams.filter((u) => !tried.has(keyOf(u)));
    const candidates = fresh.filter((u) => !this.down.has(keyOf(u)));
    const from = candidates.length ? candidates : fresh;
    if (from.length <= 1) return from[0];
    const start = this.turn++ % from.length;
    let best = from[start]!;
    for (let i = 1; i < from.length; i++) {
      const u = from[(start + i) % from.length]!;
      if (this.load(u) < this.load(best)) best = u;
    }
    return best;
  }

  /** Takes an upstream out of rotation; a connection every second tells when it answers again. */
  private takeOut(upstream: Upstream): void {
    this.down.set(keyOf(upstream), upstream);
    this.probing ??= setInterval(() => void this.probeDown(), PROBE_EVERY_MS);
  }

  /**
   * A node that is lost (powered off, cut off) gives no error: requests already sent on its connections
   * wait for answers that never come. So each node that runs upstreams is tried every second (one of its
   * ports); one that does not take a connection within a second has all its upstreams taken out, and
   * their pools destroyed, so that what waited on them fails now and goes to another instance.
   */
  private async watchNodes(): Promise<void> {
    const byNode = new Map<string, Upstream[]>();
    for (const route of this.routes.all()) {
      for (const u of route.upstreams) if (u.node && !this.down.has(keyOf(u))) byNode.set(u.node, [...(byNode.get(u.node) ?? []), u]);
    }
    await Promise.all(
      [...byNode.values()].map(async (upstreams) => {
        if ((await probe(upstreams[0]!.node!, upstreams[0]!.port, 0)) !== 'silent') return;
        for (const u of upstreams) {
          this.takeOut(u);
          const held = this.pools.get(keyOf(u));
          this.pools.delete(keyOf(u));
          void held?.pool.destroy().catch(() => {});
        }
      }),
    );
  }

  private async probeDown(): Promise<void> {
    for (const [key, upstream] of this.down) {
      const origin = new URL(this.origin(upstream));
      if ((await probe(origin.hostname, Number(origin.port), 250)) === 'held') this.down.delete(key);
    }
    if (!this.down.size && this.probing) {
      clearInterval(this.probing);
      this.probing = null;
    }
  }

  private load(upstream: Upstream): number {
    return this.inflight.get(keyOf(upstream)) ?? 0;
  }

  private enter(upstream: Upstream): () => void {
    const { port } = upstream;
    const key = keyOf(upstream);
    this.inflight.set(key, this.load(upstream) + 1);
    this.onPort.set(port, this.inFlight(port) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const mine = (this.inflight.get(key) ?? 1) - 1;
      if (mine > 0) this.inflight.set(key, mine);
      else this.inflight.delete(key);
      const n = this.inFlight(port) - 1;
      if (n > 0) return void this.onPort.set(port, n);
      this.onPort.delete(port);
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
    const tried = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const route = this.routes.get(app);
      const upstream = route && this.pick(route.upstreams, tried);
      if (!route || !upstream) {
        // Not running (503), or every instance was tried and none could be reached (502).
        const status = tried.size ? 502 : 503;
        this.traffic.record(app, status, performance.now() - began);
        return sendPage(res, status, host);
      }
      const leave = this.enter(upstream);
      try {
        // undici's stream API writes the answer straight into the response: no intermediate stream.
        let status = 0;
        await this.pool(upstream).stream(
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
        const several = route.upstreams.length > 1;
        const failed = notReached || (several && CUT.has(code));
        // An address that cannot be reached is stale (the container ran again before the worker saw it): the
        // published port, which a restart keeps, is the way in until the next announcement or reload.
        if (failed && upstream.address) this.routes.forgetAddress(app, upstream.address);
        // One of several instances is out of rotation until its port takes connections again; the request
        // goes to another.
        if (failed && several) {
          this.takeOut({ port: upstream.port, node: upstream.node });
          tried.add(keyOf(upstream));
        }
        // A request that never reached the app may go again: to the same container by its port, to another
        // instance, or (during a switch) to the new upstream once the old one has closed. With several
        // instances, so may an idempotent one whose connection was cut before any answer.
        const more = attempt < 2 * route.upstreams.length + 1;
        if (more && !hasBody && RETRYABLE.has(req.method ?? '') && failed && !res.headersSent) {
          if (!upstream.address && route.upstreams.length === 1) await new Promise((resolve) => setTimeout(resolve, 50));
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
    const target = route && this.pick(route.upstreams, new Set());
    if (!target) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const leave = this.enter(target);
    socket.once('close', leave);
    try {
      const upstream = await this.pool(target).upgrade({
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
      if (target.address && NOT_REACHED.has((err as NodeJS.ErrnoException).code ?? '')) this.routes.forgetAddress(app!, target.address);
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }
}

/** An upstream's identity: its published port, on its node under Swarm (two nodes may publish the same port). */
function keyOf(upstream: Upstream): string {
  return `${upstream.node ?? ''}:${upstream.port}`;
}

/**
 * One TCP connection attempt to `host:port`, answered as `held` (connected, and still open after `holdMs`),
 * `refused` (the machine's kernel said no, or the connection closed at once) or `silent` (nothing within a
 * second). The engine's proxy on a published port accepts even when the container does not listen, then
 * closes at once: for an upstream only `held` is a yes. For a machine, anything but `silent` is one.
 */
function probe(host: string, port: number, holdMs: number): Promise<'held' | 'refused' | 'silent'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    let timer: NodeJS.Timeout | undefined;
    const done = (answer: 'held' | 'refused' | 'silent') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => {
      socket.setTimeout(0);
      timer = setTimeout(() => done('held'), holdMs);
    });
    socket.once('timeout', () => done('silent'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'refused' : 'silent'));
    socket.once('end', () => done('refused'));
    socket.once('close', () => done('refused'));
  });
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
