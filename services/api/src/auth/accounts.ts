/**
 * Users, API tokens and panel sessions, in Redis. Only hashes of tokens and session ids are stored, so
 * reading Redis does not hand out credentials.
 *
 * Tokens form trees (SPEC §5): a token minted with a token is its child, never outliving it nor holding
 * more, and revoking a token revokes everything below it. A token minted from a panel session is a root
 * of its user's tree: the session proves the password, which is what a root stands on. The first-start
 * admin token (printed, or SLIPWAY_ADMIN_TOKEN) ends, with its tree, once the admin has a password.
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
  minted: (id: string) => `slipway:tokens:minted:${id}`,
  session: (hash: string) => `slipway:session:${hash}`,
};

export const SESSION_TTL_S = 7 * 24 * 3600;
/** How deep a tree of tokens may grow: each use of a minted token checks that all its ancestors live. */
export const MAX_GENERATIONS = 8;
const DAY_MS = 86_400_000;

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
  /** The token it was minted with; null for a root. Absent on records older than token trees. */
  parent?: string | null;
  /** Ids of every ancestor, nearest first. */
  lineage?: string[];
  /** The first-start admin token, which ends when the admin sets a password. */
  firstStart?: true;
}

export type MintResult = { ok: true; token: string; info: TokenInfo } | { ok: false; message: string };

const info = ({ lineage: _internal, ...shown }: TokenRecord): TokenInfo => shown;

export class Accounts {
  /** `configuredAdminToken`: SLIPWAY_ADMIN_TOKEN, valid until the admin has a password, even after Redis lost its records. */
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

  /**
   * A token for `input.user` made by `by`. Made with a token: its child, expiring no later than it (its
   * expiry when none is asked). Made from a session: a root, any expiry. Scopes are the caller's check.
   */
  async mintToken(by: Principal, input: { user: string; name: string; scope: Scope; expiresInDays?: number | undefined }): Promise<MintResult> {
    const parent = by.via === 'token' ? await this.record(by.ref) : null;
    if (by.via === 'token' && !parent) return { ok: false, message: 'The token making this one was revoked meanwhile' };
    const asked = input.expiresInDays ? Date.now() + input.expiresInDays * DAY_MS : null;
    const limit = parent?.expiresAt ? Date.parse(parent.expiresAt) : null;
    if (asked !== null && limit !== null && asked > limit) {
      const days = Math.floor((limit - Date.now()) / DAY_MS);
      return { ok: false, message: `This token expires at ${parent!.expiresAt}: a token it makes cannot outlive it (ask for at most ${days} days, or none for the same expiry)` };
    }
    if (parent && (parent.lineage?.length ?? 0) + 1 >= MAX_GENERATIONS) {
      return { ok: false, message: `Tokens minted by tokens go at most ${MAX_GENERATIONS} generations deep: make this one signed in to the panel` };
    }
    const expiresAt = asked ?? limit;
    const made = await this.createToken({ user: input.user, name: input.name, scope: input.scope, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(), parent: parent?.id ?? null });
    return { ok: true, ...made };
  }

  /** Returns the token itself once; only its hash is kept. */
  async createToken(
    input: { user: string; name: string; scope: Scope; expiresAt: string | null; parent?: string | null; firstStart?: boolean },
    token = newToken(),
  ): Promise<{ token: string; info: TokenInfo }> {
    const hash = sha256(token);
    const parent = input.parent ? await this.record(input.parent) : null;
    const record: TokenRecord = {
      id: hash.slice(0, 16),
      name: input.name,
      user: input.user,
      scope: input.scope,
      createdAt: new Date().toISOString(),
      expiresAt: input.expiresAt,
      lastUsedAt: null,
      prefix: `${token.slice(0, TOKEN_PREFIX.length + 4)}…`,
      parent: input.parent ?? null,
      ...(parent ? { lineage: [parent.id, ...(parent.lineage ?? [])] } : {}),
      ...(input.firstStart ? { firstStart: true as const } : {}),
    };
    const tx = this.redis.multi().set(K.token(hash), JSON.stringify(record)).hset(K.tokenIds, record.id, hash).sadd(K.userTokens(input.user), record.id);
    if (input.parent) tx.sadd(K.minted(input.parent), record.id);
    await tx.exec();
    return { token, info: info(record) };
  }

  async listTokens(user?: string): Promise<TokenInfo[]> {
    const ids = user ? await this.redis.smembers(K.userTokens(user)) : Object.keys(await this.redis.hgetall(K.tokenIds));
    const infos = await Promise.all(ids.map((id) => this.tokenById(id)));
    return infos.filter((t): t is TokenInfo => t !== null).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async tokenById(id: string): Promise<TokenInfo | null> {
    const record = await this.record(id);
    return record ? info(record) : null;
  }

  private async record(id: string): Promise<TokenRecord | null> {
    const hash = await this.redis.hget(K.tokenIds, id);
    const raw = hash ? await this.redis.get(K.token(hash)) : null;
    return raw ? (JSON.parse(raw) as TokenRecord) : null;
  }

  /** Revokes a token and every token below it; returns the ids revoked (none: it was unknown). */
  async revokeToken(id: string): Promise<string[]> {
    const revoked: string[] = [];
    const pending = [id];
    while (pending.length) {
      const next = pending.pop()!;
      if (revoked.includes(next)) continue;
      // Children first into the queue: a revocation cut short leaves orphans, which byToken refuses anyway.
      pending.push(...(await this.redis.smembers(K.minted(next))));
      const hash = await this.redis.hget(K.tokenIds, next);
      const record = hash ? await this.record(next) : null;
      const tx = this.redis.multi().hdel(K.tokenIds, next).del(K.minted(next));
      if (hash) tx.del(K.token(hash));
      if (record) tx.srem(K.userTokens(record.user), next);
      if (record?.parent) tx.srem(K.minted(record.parent), next);
      await tx.exec();
      if (hash) revoked.push(next);
    }
    return revoked;
  }

  /** Ends the first-start admin token and its tree (SPEC §5: once the admin has a password). */
  async endFirstStart(): Promise<string[]> {
    const ended: string[] = [];
    for (const id of await this.redis.smembers(K.userTokens('admin'))) {
      const record = await this.record(id);
      // Records from before token trees carry no flag: theirs were made under these two names.
      const legacy = record?.parent === undefined && (record?.name === 'first start' || record?.name === 'SLIPWAY_ADMIN_TOKEN');
      if (record?.firstStart || legacy) ended.push(...(await this.revokeToken(id)));
    }
    return ended;
  }

  /** The principal a bearer token stands for, or null (unknown, expired, or its user gone). */
  async byToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return null;
    const hash = sha256(token);
    const raw = await this.redis.get(K.token(hash));
    if (!raw) return this.configuredAdmin(token);
    const record = JSON.parse(raw) as TokenRecord;
    if (record.expiresAt && Date.parse(record.expiresAt) < Date.now()) return null;
    // Every ancestor still there: a revocation cut short (or racing this token's making) leaves no live orphan.
    if (record.lineage?.length && (await this.redis.hmget(K.tokenIds, ...record.lineage)).some((h) => !h)) return null;
    const user = await this.getUser(record.user);
    if (!user) return null;
    // A token never holds more than its user's role, even if the role was lowered after it was made.
    const scope = scopeAllows(user.role, record.scope) ? record.scope : user.role;
    return { user: record.user, scope, via: 'token', ref: record.id };
  }

  /**
   * The configured admin token whose records are gone (Redis flushed): recreate them, and let it in, as
   * long as the admin has no password (once it has, the first-start token has ended for good).
   */
  private async configuredAdmin(token: string): Promise<Principal | null> {
    const configured = this.configuredAdminToken;
    if (!configured || token.length !== configured.length || !timingSafeEqual(Buffer.from(token), Buffer.from(configured))) return null;
    if ((await this.getUser('admin'))?.hasPassword) return null;
    await this.createUser('admin', 'admin', null);
    const { info } = await this.createToken({ user: 'admin', name: 'SLIPWAY_ADMIN_TOKEN', scope: 'admin', expiresAt: null, firstStart: true }, token);
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
