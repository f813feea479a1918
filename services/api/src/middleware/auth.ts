/**
 * The gate: authentication on every route but `/healthz`, the login/setup routes and the panel's static
 * files (SPEC §5): a bearer token (`Authorization: Bearer slw_…`) or the panel's session cookie. One table
 * decides which scope each route needs, so a new route cannot be left open by forgetting a decorator. The
 * table is read with the canonical path (decoded, dot segments refused, slashes collapsed, case-folded):
 * however a path is spelled, it is judged as the route it could reach (issue 12).
 * Requests made with the cookie that change something also need the CSRF header and a same-origin Origin.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { CSRF_HEADER, SESSION_COOKIE, scopeAllows, type Access } from '@slipway/contracts/auth';
import type { Accounts, Principal } from '../auth/accounts';
import { AppError } from '../errors';
import { canonicalPath } from './canonical-path';

type Need = Access;

const RULES: Array<[method: string, path: RegExp, need: Need]> = [
  ['*', /^\/healthz$/, 'public'],
  ['*', /^\/api\/auth\/(login|setup|status)$/, 'public'],
  ['*', /^\/api\/auth\/(logout|me)$/, 'signed-in'],
  ['*', /^\/api\/tokens(\/|$)/, 'signed-in'],
  ['*', /^\/api\/(users|audit)(\/|$)/, 'admin'],
  ['PUT', /^\/api\/apps\/[^/]+$/, 'admin'],
  ['DELETE', /^\/api\/apps\/[^/]+$/, 'admin'],
  // A volume's files are the app's data (databases, uploads): read and replaced by admins only.
  ['*', /^\/api\/apps\/[^/]+\/volumes\/[^/]+\/archive$/, 'admin'],
  ['POST', /^\/api\/deploys\/?$/, 'deploy'],
  ['POST', /^\/api\/deploys\/[^/]+\/(retry|cancel)$/, 'deploy'],
  ['POST', /^\/api\/apps\/[^/]+\/(rollback|restart|start|stop|versions\/[^/]+\/rebuild)$/, 'deploy'],
  ['GET', /^\/(api\/|metrics$)/, 'read'],
  ['HEAD', /^\/(api\/|metrics$)/, 'read'],
  // Anything else under /api changes something and is not listed: only admins, until it is.
  ['*', /^\/api\//, 'admin'],
];

/** What a request to a canonical path needs; the panel's own pages (outside /api) are public, they hold no data. */
export function requirement(method: string, path: string): Need {
  for (const [m, re, need] of RULES) if ((m === '*' || m === method) && re.test(path)) return need;
  return path.startsWith('/api') ? 'admin' : 'public';
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function authenticate(accounts: Accounts, onTokenUse: (p: Principal) => void): Middleware {
  return async (ctx, next) => {
    const canonical = canonicalPath(ctx.path);
    if (!canonical.ok) throw new AppError(canonical.status, canonical.status === 404 ? 'not_found' : 'bad_request', `No route for this path: ${canonical.reason}`);
    ctx.state.canonicalPath = canonical.path;
    const need = requirement(ctx.method.toUpperCase(), canonical.path);
    if (need === 'public') {
      // Who is asking still matters to some public routes (the audit of a setup), never enough to fail them.
      const principal = await identify(ctx.get('authorization'), ctx.cookies.get(SESSION_COOKIE), accounts).catch(() => null);
      if (principal) ctx.state.principal = principal;
      return next();
    }
    const began = performance.now();
    const principal = await identify(ctx.get('authorization'), ctx.cookies.get(SESSION_COOKIE), accounts);
    // What authentication cost this request (bench/auth reads it); a hash lookup, so it tells nothing about the token.
    ctx.set('Server-Timing', `auth;dur=${(performance.now() - began).toFixed(3)}`);
    if (principal) ctx.state.principal = principal;
    if (!principal) {
      ctx.set('WWW-Authenticate', 'Bearer realm="slipway"');
      throw new AppError(401, 'unauthorized', 'Sign in, or send an API token as "Authorization: Bearer slw_…"');
    }
    if (need !== 'signed-in' && !scopeAllows(principal.scope, need)) {
      throw new AppError(403, 'forbidden', `This needs the "${need}" scope; yours is "${principal.scope}"`);
    }
    if (principal.via === 'session' && !SAFE.has(ctx.method)) checkCsrf(ctx.get(CSRF_HEADER), principal.csrf ?? '', ctx.get('origin'), ctx.get('host'));
    if (principal.via === 'token') onTokenUse(principal);
    return next();
  };
}

async function identify(authorization: string, cookie: string | undefined, accounts: Accounts): Promise<Principal | null> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  if (bearer) {
    const principal = await accounts.byToken(bearer);
    // A wrong token is an error even when a cookie would do: the client meant to use the token.
    if (!principal) throw new AppError(401, 'unauthorized', 'This API token is unknown, revoked or expired');
    return principal;
  }
  return cookie ? accounts.bySession(cookie) : null;
}

function checkCsrf(header: string, expected: string, origin: string, host: string): void {
  const a = Buffer.from(header);
  const b = Buffer.from(expected);
  if (!expected || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new AppError(403, 'forbidden', `Requests signed in with the panel's cookie need the ${CSRF_HEADER} header`);
  }
  let sameOrigin = false;
  try {
    sameOrigin = new URL(origin).host === host;
  } catch {
    sameOrigin = false;
  }
  if (!sameOrigin) throw new AppError(403, 'forbidden', 'Cross-origin requests are refused');
}
