/**
 * Users, API tokens and panel sessions, in Redis. Only hashes of tokens and session ids are stored, so
 * reading Redis does not hand out credentials.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { scopeAllows, type Scope, type TokenInfo, type User } from '@slipway/contracts/auth';
import { newSecret, newToken, sha256, TOKEN_PREFIX } from './secrets';

const K = {
  users: 'slipway:users',
  user: (name: string) => `slipway:user:${name}`,
  userTokens: (name: string) => `slipway:user:${name}:tokens`,
  userSessions: (name: string) => `slipway:user:${name}:sessions`,
  token: (hash: string) => `slipway:token:${hash}`,
  tokenIds: 'slipway:tokens:byid',
  session: (hash: string) => `slipway:session:${hash}`,
};

export const SESSION_TTL_S = 7 * 24 * 3600;

export interface Principal {
  user: string;
  scope: Scope;
  via: 'token' | 'session';
  /** Token id, or the session's hash prefix: what the audit log names. */
  ref: string;
  csrf?: string;
}

interface TokenRecord {
  id: string;
  name: string;
  user: string;
  scope: Scope;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  prefix: string;
}

export class Accounts {
  /** `configuredAdminToken`: SLIPWAY_ADMIN_TOKEN, valid as long as it is set, even after Redis lost its records. */
  constructor(
    private readonly redis: Redis,
    private readonly configuredAdminToken?: string,
  ) {}

  async getUser(name: string): Promise<(User & { passwordHash: string | null }) | null> {
    const hash = await this.redis.hgetall(K.user(name));
    if (!hash.role) return null;
    return { name, role: hash.role as Scope, createdAt: hash.createdAt ?? '', hasPassword: Boolean(hash.password), passwordHash: hash.password || null };
  }

  async listUsers(): Promise<User[]> {
    const names = (await this.redis.smembers(K.users)).sort();
    const users = await Promise.all(names.map((n) => this.getUser(n)));
    return users.filter((u): u is NonNullable<typeof u> => u !== null).map(({ passwordHash: _hidden, ...u }) => u);
  }

  async createUser(name: string, role: Scope, passwordHash: string | null): Promise<boolean> {
    const created = await this.redis.hsetnx(K.user(name), 'role', role);
    if (!created) return false;
    await this.redis
      .multi()
      .hset(K.user(name), { createdAt: new Date().toISOString(), ...(passwordHash ? { password: passwordHash } : {}) })
      .sadd(K.users, name)
      .exec();
    return true;
  }

  async setPassword(name: string, passwordHash: string): Promise<void> {
    await this.redis.hset(K.user(name), 'password', passwordHash);
  }

  async deleteUser(name: string): Promise<void> {
    for (const id of await this.redis.smembers(K.userTokens(name))) await this.revokeToken(id);
    await this.revokeSessions(name);
    await this.redis.multi().del(K.user(name), K.userTokens(name), K.userSessions(name)).srem(K.users, name).exec();
  }

  /** Returns the token itself once; only its hash is kept. */
  async createToken(input: { user: string; name: string; scope: Scope; expiresAt: string | null }, token = newToken()): Promise<{ token: string; info: TokenInfo }> {
    const hash = sha256(token);
    const info: TokenRecord = {
      id: hash.slice(0, 16),
      name: input.name,
      user: input.user,
      scope: input.scope,
      createdAt: new Date().toISOString(),
      expiresAt: input.expiresAt,
      lastUsedAt: null,
      prefix: `${token.slice(0, TOKEN_PREFIX.length + 4)}…`,
    };
    await this.redis
      .multi()
      .set(K.token(hash), JSON.stringify(info))
      .hset(K.tokenIds, info.id, hash)
      .sadd(K.userTokens(input.user), info.id)
      .exec();
    return { token, info };
  }

  async listTokens(user?: string): Promise<TokenInfo[]> {
    const ids = user ? await this.redis.smembers(K.userTokens(user)) : Object.keys(await this.redis.hgetall(K.tokenIds));
    const infos = await Promise.all(ids.map((id) => this.tokenById(id)));
    return infos.filter((t): t is TokenInfo => t !== null).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async tokenById(id: string): Promise<TokenInfo | null> {
    const hash = await this.redis.hget(K.tokenIds, id);
    const raw = hash ? await this.redis.get(K.token(hash)) : null;
    return raw ? (JSON.parse(raw) as TokenInfo) : null;
  }

  async revokeToken(id: string): Promise<boolean> {
    const hash = await this.redis.hget(K.tokenIds, id);
    if (!hash) return false;
    const raw = await this.redis.get(K.token(hash));
    const info = raw ? (JSON.parse(raw) as TokenRecord) : null;
    const tx = this.redis.multi().del(K.token(hash)).hdel(K.tokenIds, id);
    if (info) tx.srem(K.userTokens(info.user), id);
    await tx.exec();
    return true;
  }

  /** The principal a bearer token stands for, or null (unknown, expired, or its user gone). */
  async byToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return null;
    const hash = sha256(token);
    const raw = await this.redis.get(K.token(hash));
    if (!raw) return this.configuredAdmin(token);
    const info = JSON.parse(raw) as TokenRecord;
    if (info.expiresAt && Date.parse(info.expiresAt) < Date.now()) return null;
    const user = await this.getUser(info.user);
    if (!user) return null;
    // A token never holds more than its user's role, even if the role was lowered after it was made.
    const scope = scopeAllows(user.role, info.scope) ? info.scope : user.role;
    return { user: info.user, scope, via: 'token', ref: info.id };
  }

  /** The configured admin token whose records are gone (Redis flushed): recreate them, and let it in. */
  private async configuredAdmin(token: string): Promise<Principal | null> {
    const configured = this.configuredAdminToken;
    if (!configured || token.length !== configured.length || !timingSafeEqual(Buffer.from(token), Buffer.from(configured))) return null;
    await this.createUser('admin', 'admin', null);
    const { info } = await this.createToken({ user: 'admin', name: 'SLIPWAY_ADMIN_TOKEN', scope: 'admin', expiresAt: null }, token);
    return { user: 'admin', scope: 'admin', via: 'token', ref: info.id };
  }

  /** Records when a token was last used; true at most once an hour per token (worth an audit line). */
  async touchToken(id: string): Promise<boolean> {
    const hash = await this.redis.hget(K.tokenIds, id);
    if (!hash) return false;
    const raw = await this.redis.get(K.token(hash));
    if (!raw) return false;
    const info = JSON.parse(raw) as TokenRecord;
    const last = info.lastUsedAt ? Date.parse(info.lastUsedAt) : 0;
    if (Date.now() - last < 60_000) return false;
    info.lastUsedAt = new Date().toISOString();
    await this.redis.set(K.token(hash), JSON.stringify(info), 'KEEPTTL');
    return Date.now() - last >= 3_600_000;
  }

  /** A new session (new id on every login); returns the cookie value and its CSRF token. */
  async createSession(user: string, ip: string): Promise<{ sid: string; csrf: string }> {
    const sid = newSecret(32);
    const csrf = newSecret(24);
    const hash = sha256(sid);
    await this.redis
      .multi()
      .hset(K.session(hash), { user, csrf, ip, createdAt: new Date().toISOString() })
      .expire(K.session(hash), SESSION_TTL_S)
      .sadd(K.userSessions(user), hash)
      .exec();
    return { sid, csrf };
  }

  async bySession(sid: string): Promise<Principal | null> {
    if (!sid || sid.length > 100) return null;
    const hash = sha256(sid);
    const session = await this.redis.hgetall(K.session(hash));
    if (!session.user) return null;
    const user = await this.getUser(session.user);
    if (!user) return null;
    await this.redis.expire(K.session(hash), SESSION_TTL_S);
    return { user: user.name, scope: user.role, via: 'session', ref: hash.slice(0, 12), csrf: session.csrf };
  }

  async endSession(sid: string): Promise<void> {
    const hash = sha256(sid);
    const user = await this.redis.hget(K.session(hash), 'user');
    const tx = this.redis.multi().del(K.session(hash));
    if (user) tx.srem(K.userSessions(user), hash);
    await tx.exec();
  }

  async revokeSessions(user: string): Promise<void> {
    const hashes = await this.redis.smembers(K.userSessions(user));
    if (hashes.length) await this.redis.del(...hashes.map(K.session), K.userSessions(user));
  }
}
