/**
 * The API's HTTP server, bounded against slow and hostile clients (issue 12): a request's headers must
 * arrive within HEADERS_TIMEOUT_MS; a body that is not an upload within BODY_DEADLINE_MS; a socket idle
 * for IDLE_TIMEOUT_MS closes; one address holds at most `perAddress` connections. X-Forwarded-* are
 * rewritten here, before Koa sees them: believed from SLIPWAY_TRUSTED_PROXIES, replaced for everyone else.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { forwardedClient, forwardedProto, isTrusted, type TrustedProxies } from '@slipway/runtime/proxies';

export const HEADERS_TIMEOUT_MS = 15_000;
/** JSON bodies are at most 256 KiB; and a body still coming this long after its answer is nobody's. */
export const BODY_DEADLINE_MS = 30_000;
/** Event streams write a heartbeat every 15 s, so only dead sockets are this quiet. */
export const IDLE_TIMEOUT_MS = 120_000;

/** Routes whose bodies are archives: hundreds of MiB over slow links, bounded by size and idleness only. */
const UPLOADS = [/^POST \/api\/deploys\/?(\?|$)/i, /^PUT \/api\/apps\/[^/?]+\/volumes\/[^/?]+\/archive\/?(\?|$)/i];

export function createApiServer(handler: RequestListener, opts: { trustedProxies: TrustedProxies; perAddress: number }): Server {
  const server = createServer(
    {
      requestTimeout: 0, // uploads; bodies are bounded per route below
      headersTimeout: HEADERS_TIMEOUT_MS,
      // How often the header timeout is checked (Node's default, 30 s, would double it).
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      believeForwarded(req, opts.trustedProxies);
      bodyDeadline(req, res);
      handler(req, res);
    },
  );
  // Idle keep-alive connections live longer than clients' own pools (undici: 4 s, browsers: ~60 s), so a
  // client never writes a request onto a socket the server is closing at that moment.
  server.keepAliveTimeout = 65_000;
  server.timeout = IDLE_TIMEOUT_MS;
  capPerAddress(server, opts.perAddress, opts.trustedProxies);
  return server;
}

const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip'];

/**
 * Leaves one X-Forwarded-For (the client), and X-Forwarded-Proto/-Host only when a trusted proxy sent
 * them, for Koa to read with `app.proxy = true`: koa.ip, koa.secure and koa.host are then right for
 * everyone, whoever is or is not behind a proxy.
 */
export function believeForwarded(req: IncomingMessage, trusted: TrustedProxies): void {
  const peer = req.socket.remoteAddress ?? '';
  const headers = req.headers;
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const client = forwardedClient(peer, one('x-forwarded-for'), trusted);
  const proto = forwardedProto(peer, one('x-forwarded-proto'), trusted);
  const host = isTrusted(peer, trusted) ? one('x-forwarded-host')?.split(',').pop()?.trim() : undefined;
  for (const name of FORWARDED) delete headers[name];
  headers['x-forwarded-for'] = client;
  if (proto) headers['x-forwarded-proto'] = proto;
  if (host) headers['x-forwarded-host'] = host;
}

/** Closes the connection of a request whose body does not arrive in time (see BODY_DEADLINE_MS). */
function bodyDeadline(req: IncomingMessage, res: ServerResponse): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => req.complete || req.socket.destroy(), BODY_DEADLINE_MS).unref();
  };
  if (!UPLOADS.some((re) => re.test(`${req.method} ${req.url}`))) arm();
  // Answered (refused, say) before its body was read: Node drains the rest, but not forever.
  res.once('finish', () => req.complete || arm());
  res.once('close', () => req.complete && clearTimeout(timer));
  req.once('end', () => clearTimeout(timer));
}

/** Trusted proxies are exempt: every client behind them shares their address. */
function capPerAddress(server: Server, max: number, trusted: TrustedProxies): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress ?? '';
    if (isTrusted(peer, trusted)) return;
    const count = (open.get(peer) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(peer, count);
    socket.once('close', () => {
      const left = (open.get(peer) ?? 1) - 1;
      if (left > 0) open.set(peer, left);
      else open.delete(peer);
    });
  });
}
