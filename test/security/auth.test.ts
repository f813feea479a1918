/**
 * Access (issue 7, SPEC §5): every route but /healthz and the sign-in routes needs credentials; scopes
 * hold; tokens are shown once and stored hashed; the first start has no open window; sessions are
 * HttpOnly/SameSite=Strict with CSRF checks; failed logins are rate-limited; everything lands in the audit log.
 */
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptAdminToken, tokenSignedIn } from '../helpers/admin';
import { upload } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { everythingInRedis, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;

interface Res {
  status: number;
  body: any;
  headers: Headers;
}
async function http(method: string, path: string, opts: { token?: string; cookie?: string; csrf?: string; origin?: string; body?: unknown } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['x-slipway-csrf'] = opts.csrf;
  if (opts.origin) headers.origin = opts.origin;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${slipway.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (SSE, Prometheus)
  }
  return { status: res.status, body, headers: res.headers };
}

const ROUTES: Array<[string, string]> = [
  ['GET', '/api/apps'],
  ['GET', '/api/apps/demo'],
  ['PUT', '/api/apps/demo'],
  ['DELETE', '/api/apps/demo?confirm=demo'],
  ['POST', '/api/apps/demo/rollback'],
  ['POST', '/api/apps/demo/restart'],
  ['POST', '/api/apps/demo/start'],
  ['POST', '/api/apps/demo/stop'],
  ['POST', '/api/apps/demo/versions/1.0.0/rebuild'],
  ['GET', '/api/apps/demo/logs'],
  ['GET', '/api/apps/demo/logs/stream'],
  ['GET', '/api/apps/demo/stats'],
  ['GET', '/api/apps/demo/stats/series'],
  ['GET', '/api/deploys'],
  ['POST', '/api/deploys'],
  ['GET', '/api/deploys/dmwuf02u73fbfdcaf'],
  ['GET', '/api/deploys/dmwuf02u73fbfdcaf/events'],
  ['GET', '/api/queue'],
  ['GET', '/api/events'],
  ['GET', '/api/traffic'],
  ['GET', '/api/system'],
  ['GET', '/api/system/metrics'],
  ['GET', '/api/system/logs'],
  ['GET', '/api/users'],
  ['POST', '/api/users'],
  ['GET', '/api/tokens'],
  ['POST', '/api/tokens'],
  ['DELETE', '/api/tokens/abc'],
  ['GET', '/api/audit'],
  ['GET', '/api/auth/me'],
  ['POST', '/api/auth/logout'],
  ['GET', '/metrics'],
  ['POST', '/api/anything-new'],
];

let readToken = '';
let deployToken = '';
/** The first-start token until the admin sets a password, then one the admin made signed in. */
let adminToken = '';

beforeAll(async () => {
  slipway = await startSlipway();
  const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'demo', version: '1.0.0' }), 'demo.tgz');
  expect(res.status).toBe(202);
});
afterAll(async () => {
  await slipway?.stop();
});

describe('authentication', () => {
  it('answers 401 on every route without credentials, SSE included', async () => {
    for (const [method, path] of ROUTES) {
      const res = await http(method, path);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    expect((await http('GET', '/healthz')).status).toBe(200);
  });

  it('answers 401 for an unknown, malformed or revoked token', async () => {
    for (const token of ['slw_nope', 'not-a-token', 'slw_' + 'x'.repeat(43), 'x'.repeat(5000)]) {
      expect((await http('GET', '/api/apps', { token })).status).toBe(401);
    }
  });
});

describe('users, tokens and scopes', () => {
  it('makes users and tokens, shows a token once, and stores only its hash', async () => {
    for (const [name, role] of [['reader', 'read'], ['shipper', 'deploy']]) {
      const res = await http('POST', '/api/users', { token: slipway.token, body: { name, role, password: `${name}-password-123` } });
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ name, role, hasPassword: true });
    }
    expect((await http('POST', '/api/users', { token: slipway.token, body: { name: 'reader', role: 'read', password: 'another-password' } })).status).toBe(409);
    expect((await http('POST', '/api/users', { token: slipway.token, body: { name: 'weak', role: 'read', password: 'short' } })).status).toBe(400);

    const read = await http('POST', '/api/tokens', { token: slipway.token, body: { name: 'ci-read', scope: 'read', user: 'reader', expiresInDays: 30 } });
    expect(read.status).toBe(201);
    readToken = read.body.token;
    expect(readToken).toMatch(/^slw_[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(read.body.info).toMatchObject({ user: 'reader', scope: 'read', lastUsedAt: null });
    deployToken = (await http('POST', '/api/tokens', { token: slipway.token, body: { name: 'ci-deploy', scope: 'deploy', user: 'shipper' } })).body.token;

    const listed = JSON.stringify((await http('GET', '/api/tokens', { token: slipway.token })).body);
    expect(listed).not.toContain(readToken);
    const dump = await everythingInRedis(slipway.redisUrl);
    expect(dump).not.toContain(readToken);
    expect(dump).not.toContain(slipway.token);
    expect(dump).not.toContain('reader-password-123');
  });

  it('lets each scope do what it should and nothing more', async () => {
    expect((await http('GET', '/api/apps', { token: readToken })).status).toBe(200);
    expect((await http('GET', '/api/apps/demo/logs', { token: readToken })).status).toBe(200);
    expect((await http('POST', '/api/apps/demo/restart', { token: readToken })).status).toBe(403);
    expect((await http('GET', '/api/users', { token: readToken })).status).toBe(403);

    expect((await http('POST', '/api/apps/demo/rollback', { token: deployToken, body: {} })).status).toBe(404); // allowed; no previous version
    expect((await http('PUT', '/api/apps/demo', { token: deployToken, body: {} })).status).toBe(403);
    expect((await http('DELETE', '/api/apps/demo?confirm=demo', { token: deployToken })).status).toBe(403);
    expect((await http('GET', '/api/audit', { token: deployToken })).status).toBe(403);

    const denied = await http('PUT', '/api/apps/demo', { token: readToken, body: {} });
    expect(denied.body.error.message).toContain('"admin"');
  });

  it('never gives a token more than its user holds', async () => {
    const res = await http('POST', '/api/tokens', { token: readToken, body: { name: 'escalate', scope: 'deploy' } });
    expect(res.status).toBe(403);
    expect((await http('POST', '/api/tokens', { token: readToken, body: { name: 'other', scope: 'read', user: 'shipper' } })).status).toBe(403);
    expect((await http('POST', '/api/tokens', { token: slipway.token, body: { name: 'too-much', scope: 'admin', user: 'reader' } })).status).toBe(403);
  });

  it('refuses an expired token and a revoked one', async () => {
    const made = await http('POST', '/api/tokens', { token: slipway.token, body: { name: 'short-lived', scope: 'read', user: 'reader', expiresInDays: 1 } });
    const redis = new Redis(slipway.redisUrl);
    const key = `slipway:token:${await redis.hget('slipway:tokens:byid', made.body.info.id)}`;
    const record = JSON.parse((await redis.get(key))!);
    await redis.set(key, JSON.stringify({ ...record, expiresAt: new Date(Date.now() - 1000).toISOString() }));
    await redis.quit();
    expect((await http('GET', '/api/apps', { token: made.body.token })).status).toBe(401);

    const other = await http('POST', '/api/tokens', { token: slipway.token, body: { name: 'revoke-me', scope: 'read', user: 'reader' } });
    expect((await http('GET', '/api/apps', { token: other.body.token })).status).toBe(200);
    expect((await http('DELETE', `/api/tokens/${other.body.info.id}`, { token: slipway.token })).status).toBe(204);
    expect((await http('GET', '/api/apps', { token: other.body.token })).status).toBe(401);
  });
});

describe('first start, sessions and CSRF', () => {
  let cookie = '';
  let csrf = '';

  it('asks for the admin token to set the first password, once', async () => {
    expect((await http('GET', '/api/auth/status')).body).toEqual({ setupRequired: true });
    expect((await http('POST', '/api/auth/setup', { body: { token: readToken, password: 'admin-password-123' } })).status).toBe(403);
    const res = await http('POST', '/api/auth/setup', { body: { token: slipway.token, password: 'admin-password-123' } });
    expect(res.status).toBe(200);
    expect((await http('GET', '/api/auth/status')).body).toEqual({ setupRequired: false });
    expect((await http('POST', '/api/auth/setup', { body: { token: slipway.token, password: 'someone-else-123' } })).status).toBe(403);
    // The first-start token has ended with the tokens it made (issue 12): go on with tokens made signed in.
    expect((await http('GET', '/api/apps', { token: slipway.token })).status).toBe(401);
    adminToken = await adoptAdminToken(slipway.url, 'admin-password-123');
    deployToken = await tokenSignedIn(slipway.url, 'shipper', 'shipper-password-123', 'deploy');
  });

  it('signs in with an HttpOnly, SameSite=Strict session cookie, new on every login', async () => {
    const first = await http('POST', '/api/auth/login', { body: { username: 'admin', password: 'admin-password-123' } });
    const second = await http('POST', '/api/auth/login', { body: { username: 'admin', password: 'admin-password-123' } });
    expect(second.status).toBe(200);
    const setCookie = second.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/slipway_session=[^;]+; path=\/; samesite=strict; httponly/i);
    expect(first.headers.get('set-cookie')).not.toBe(setCookie);
    cookie = setCookie.split(';')[0]!;
    csrf = second.body.csrf;
    expect((await http('GET', '/api/apps', { cookie })).status).toBe(200);
    expect((await http('GET', '/api/auth/me', { cookie })).body).toMatchObject({ user: { name: 'admin', role: 'admin' }, via: 'session' });
  });

  it('needs the CSRF header and a same-origin Origin for changes made with the cookie', async () => {
    const origin = slipway.url;
    expect((await http('POST', '/api/apps/demo/restart', { cookie, origin })).status).toBe(403);
    expect((await http('POST', '/api/apps/demo/restart', { cookie, csrf: 'wrong', origin })).status).toBe(403);
    expect((await http('POST', '/api/apps/demo/restart', { cookie, csrf, origin: 'http://evil.example' })).status).toBe(403);
    expect((await http('POST', '/api/apps/demo/restart', { cookie, csrf })).status).toBe(403);
    const ok = await http('PUT', '/api/apps/demo', { cookie, csrf, origin, body: {} });
    expect(ok.status).toBe(200);
  });

  it('ends the session on logout and on a password change', async () => {
    expect((await http('POST', '/api/auth/logout', { cookie, csrf, origin: slipway.url })).status).toBe(204);
    expect((await http('GET', '/api/apps', { cookie })).status).toBe(401);
    const login = await http('POST', '/api/auth/login', { body: { username: 'reader', password: 'reader-password-123' } });
    const readerCookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect((await http('GET', '/api/apps', { cookie: readerCookie })).status).toBe(200);
    expect((await http('PUT', '/api/users/reader/password', { token: adminToken, body: { password: 'reader-password-456' } })).status).toBe(204);
    expect((await http('GET', '/api/apps', { cookie: readerCookie })).status).toBe(401);
  });
});

describe('login throttling', () => {
  it('answers the same to an unknown user and a wrong password, then 429 with Retry-After', async () => {
    const unknown = await http('POST', '/api/auth/login', { body: { username: 'nobody', password: 'whatever-123' } });
    const wrong = await http('POST', '/api/auth/login', { body: { username: 'shipper', password: 'whatever-123' } });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    let last: Res = wrong;
    for (let i = 0; i < 5; i++) last = await http('POST', '/api/auth/login', { body: { username: 'shipper', password: `wrong-${i}-password` } });
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password waits now.
    expect((await http('POST', '/api/auth/login', { body: { username: 'shipper', password: 'shipper-password-123' } })).status).toBe(429);
  });
});

describe('headers and the audit log', () => {
  it('sends security headers and a CSP', async () => {
    const res = await fetch(`${slipway.url}/`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('records who did what, when and from where', async () => {
    const { body } = await http('GET', '/api/audit?limit=500', { token: adminToken });
    const actions = body.entries.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`);
    for (const expected of ['deploy.create:ok', 'user.create:ok', 'token.create:ok', 'token.revoke:ok', 'auth.setup:ok', 'auth.setup:denied', 'auth.login:ok', 'auth.login:denied', 'auth.logout:ok', 'user.password:ok', 'app.settings:ok', 'token.use:ok']) {
      expect(actions, expected).toContain(expected);
    }
    const login = body.entries.find((e: { action: string; outcome: string }) => e.action === 'auth.login' && e.outcome === 'ok');
    expect(login).toMatchObject({ actor: expect.any(String), ip: expect.stringMatching(/127\.0\.0\.1/), ts: expect.any(String) });
    expect(JSON.stringify(body)).not.toMatch(/password-123/);
    expect((await http('GET', '/api/audit?action=auth.login', { token: adminToken })).body.entries.every((e: { action: string }) => e.action === 'auth.login')).toBe(true);
  });
});

describe('uploads per token', () => {
  it('allows two uploads at once per token, and answers 429 to a third', async () => {
    const url = new URL(`${slipway.url}/api/deploys`);
    const open = () => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${deployToken}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': '1000000' },
      });
      req.on('error', () => {});
      req.write('--b\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n');
      return req;
    };
    const held = [open(), open()];
    await new Promise((r) => setTimeout(r, 300));
    const third = await http('POST', '/api/deploys', { token: deployToken });
    expect(third.status).toBe(429);
    for (const req of held) req.destroy();
  });
});
