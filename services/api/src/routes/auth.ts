import type Router from '@koa/router';
import { apiRouter } from './router';
import type { AuditAnswer, AuthStatusAnswer, MeAnswer, SignedInAnswer, TokenCreatedAnswer, TokensAnswer, UsersAnswer } from '@slipway/contracts/responses';
import type { Context } from 'koa';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { scopeAllows, SESSION_COOKIE, USERNAME_RE } from '@slipway/contracts/auth';
import { AuditQuerySchema, LoginBodySchema, NewPasswordBodySchema, NewTokenBodySchema, NewUserBodySchema, SetupBodySchema } from '@slipway/contracts/requests';
import type { Principal } from '../auth/accounts';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../auth/secrets';
import { audit, readAudit } from '../audit';
import type { ApiContext } from '../context';
import { AppError, conflict, notFound, redisUnavailable } from '../errors';
import { requireRedis } from '../middleware/redis-guard';
import { body, query } from '../middleware/validate';

/**
 * Attempts allowed before a 15-minute pause: per address, and per user name. An attempt is spent before
 * the password hash (atomically, so a parallel burst cannot pass the limit) and given back on success.
 */
const PER_IP = 10;
const PER_USER = 5;
const WINDOW_S = 15 * 60;

export function authRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));
  const { accounts } = ctx;
  const byIp = new RateLimiterRedis({ storeClient: ctx.redis, keyPrefix: 'slipway:rl:login-ip', points: PER_IP, duration: WINDOW_S });
  const byUser = new RateLimiterRedis({ storeClient: ctx.redis, keyPrefix: 'slipway:rl:login-user', points: PER_USER, duration: WINDOW_S });
  const me = (koa: Context) => koa.state.principal as Principal;

  const startSession = async (koa: Context, user: string) => {
    const { sid, csrf } = await accounts.createSession(user, koa.ip);
    koa.cookies.set(SESSION_COOKIE, sid, { httpOnly: true, sameSite: 'strict', path: '/', overwrite: true, secure: koa.secure });
    return csrf;
  };

  // The panel's first visit: no admin password yet means the setup form (which needs the admin token).
  router.get('/api/auth/status', async (koa) => {
    const admin = await accounts.getUser('admin');
    koa.body = { setupRequired: !admin?.hasPassword } satisfies AuthStatusAnswer;
  });

  router.post('/api/auth/setup', async (koa) => {
    await spend(byIp, koa.ip);
    const { token, password } = body(koa, SetupBodySchema);
    const admin = await accounts.getUser('admin');
    const principal = await accounts.byToken(token).catch(() => null);
    if (!admin || admin.hasPassword || !principal || principal.user !== 'admin' || principal.scope !== 'admin') {
      await audit(ctx, koa, { action: 'auth.setup', actor: 'admin', outcome: 'denied' });
      throw new AppError(403, 'forbidden', admin?.hasPassword ? 'Slipway is set up already: sign in' : 'That is not the admin token printed at first start');
    }
    await accounts.setPassword('admin', await hashPassword(password));
    // SPEC §5: the first-start token stops working once the admin has a password (with what it minted).
    const ended = await accounts.endFirstStart();
    await byIp.reward(koa.ip).catch(() => null);
    koa.state.principal = { user: 'admin', scope: 'admin', via: 'session', ref: 'setup' } satisfies Principal;
    const csrf = await startSession(koa, 'admin');
    await audit(ctx, koa, { action: 'auth.setup', target: 'admin', details: { tokensEnded: ended.length } });
    koa.body = { user: { name: 'admin', role: 'admin' }, csrf } satisfies SignedInAnswer;
  });

  router.post('/api/auth/login', async (koa) => {
    const { username, password } = body(koa, LoginBodySchema);
    const name = username.toLowerCase();
    await spend(byIp, koa.ip);
    try {
      await spend(byUser, name);
    } catch (err) {
      // Refused before the hash: not an attempt from this address.
      await byIp.reward(koa.ip).catch(() => null);
      throw err;
    }
    const user = USERNAME_RE.test(name) ? await accounts.getUser(name) : null;
    // The same work whether the user exists or not: no timing difference to probe names with.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !user.passwordHash || !ok) {
      await audit(ctx, koa, { action: 'auth.login', actor: name.slice(0, 64), outcome: 'denied' });
      throw new AppError(401, 'unauthorized', 'Wrong user name or password');
    }
    await Promise.all([byUser.delete(name).catch(() => null), byIp.reward(koa.ip).catch(() => null)]);
    koa.state.principal = { user: user.name, scope: user.role, via: 'session', ref: 'login' } satisfies Principal;
    const csrf = await startSession(koa, user.name);
    await audit(ctx, koa, { action: 'auth.login' });
    koa.body = { user: { name: user.name, role: user.role }, csrf } satisfies SignedInAnswer;
  });

  router.post('/api/auth/logout', async (koa) => {
    const sid = koa.cookies.get(SESSION_COOKIE);
    if (sid) await accounts.endSession(sid);
    koa.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 0 });
    await audit(ctx, koa, { action: 'auth.logout' });
    koa.status = 204;
  });

  router.get('/api/auth/me', async (koa) => {
    const p = me(koa);
    koa.body = { user: { name: p.user, role: p.scope }, via: p.via, ...(p.csrf ? { csrf: p.csrf } : {}) } satisfies MeAnswer;
  });

  // Users (admin only, by the policy table).
  router.get('/api/users', async (koa) => {
    koa.body = { users: await accounts.listUsers() } satisfies UsersAnswer;
  });

  router.post('/api/users', async (koa) => {
    const input = body(koa, NewUserBodySchema);
    if (!(await accounts.createUser(input.name, input.role, await hashPassword(input.password)))) throw conflict('user_exists', `A user named ${input.name} exists`);
    await audit(ctx, koa, { action: 'user.create', target: input.name, details: { role: input.role } });
    koa.status = 201;
    koa.body = { user: (await accounts.listUsers()).find((u) => u.name === input.name) };
  });

  router.put('/api/users/:name/password', async (koa) => {
    const name = koa.params.name ?? '';
    if (!(await accounts.getUser(name))) throw notFound('not_found', `No user named ${name.slice(0, 32)}`);
    await accounts.setPassword(name, await hashPassword(body(koa, NewPasswordBodySchema).password));
    // A new password ends every session of that user.
    await accounts.revokeSessions(name);
    await audit(ctx, koa, { action: 'user.password', target: name });
    koa.status = 204;
  });

  router.delete('/api/users/:name', async (koa) => {
    const name = koa.params.name ?? '';
    if (name === 'admin') throw new AppError(400, 'bad_request', 'The admin user cannot be deleted');
    if (!(await accounts.getUser(name))) throw notFound('not_found', `No user named ${name.slice(0, 32)}`);
    await accounts.deleteUser(name);
    await audit(ctx, koa, { action: 'user.delete', target: name });
    koa.status = 204;
  });

  // Tokens: everyone manages their own; admins everyone's.
  router.get('/api/tokens', async (koa) => {
    const p = me(koa);
    koa.body = { tokens: await accounts.listTokens(p.scope === 'admin' ? undefined : p.user) } satisfies TokensAnswer;
  });

  router.post('/api/tokens', async (koa) => {
    const p = me(koa);
    const input = body(koa, NewTokenBodySchema);
    const owner = input.user ?? p.user;
    if (owner !== p.user && p.scope !== 'admin') throw new AppError(403, 'forbidden', 'Only admins make tokens for other users');
    const user = await accounts.getUser(owner);
    if (!user) throw notFound('not_found', `No user named ${owner}`);
    if (!scopeAllows(user.role, input.scope) || !scopeAllows(p.scope, input.scope)) {
      throw new AppError(403, 'forbidden', `A token cannot hold more than its user's role ("${user.role}") or yours ("${p.scope}")`);
    }
    const made = await accounts.mintToken(p, { user: owner, name: input.name, scope: input.scope, expiresInDays: input.expiresInDays });
    if (!made.ok) throw new AppError(403, 'forbidden', made.message);
    const { token, info } = made;
    await audit(ctx, koa, { action: 'token.create', target: info.id, details: { user: owner, scope: input.scope, name: input.name, parent: info.parent ?? null } });
    koa.status = 201;
    koa.body = { token, info, note: 'Shown once: store it now' } satisfies TokenCreatedAnswer;
  });

  router.delete('/api/tokens/:id', async (koa) => {
    const p = me(koa);
    const info = await accounts.tokenById(koa.params.id ?? '');
    if (!info || (info.user !== p.user && p.scope !== 'admin')) throw notFound('not_found', 'No such token');
    // With every token it minted, and theirs (SPEC §5).
    const revoked = await accounts.revokeToken(info.id);
    await audit(ctx, koa, { action: 'token.revoke', target: info.id, details: { user: info.user, name: info.name, minted: revoked.slice(1) } });
    koa.status = 204;
  });

  router.get('/api/audit', async (koa) => {
    koa.body = { entries: await readAudit(ctx.redis, query(koa, AuditQuerySchema)) } satisfies AuditAnswer;
  });

  return router;
}

/** Spends one attempt of `key` (one Redis round trip, atomic); 429 with Retry-After when none is left. */
async function spend(limiter: RateLimiterRedis, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (res) {
    // Without Redis there is no counter: refuse rather than let guesses through uncounted.
    if (!(res instanceof RateLimiterRes)) throw redisUnavailable();
    const retry = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw new AppError(429, 'too_many_requests', `Too many failed attempts; try again in ${retry} s`, { 'Retry-After': String(retry) });
  }
}
