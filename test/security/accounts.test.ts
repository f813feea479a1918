/**
 * Accounts under attack (issue 12, item 6; SPEC §1, §5): the login limiter holds against parallel bursts;
 * a token cannot mint one that outlives it or holds more, and revoking it revokes what it minted; the
 * first-start admin token ends when the admin sets a password; X-Forwarded-* is believed only from
 * SLIPWAY_TRUSTED_PROXIES (the session cookie's Secure flag, the rate-limit key, the audit's address).
 *
 * Different clients are different loopback source addresses (127.0.x.y): the API listens on 127.0.0.1 and
 * sees each as its own peer, so each test has rate-limit keys of its own.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts } from '../../services/api/src/auth/accounts';
import { bootstrapAdmin } from '../../services/api/src/auth/bootstrap';
import { sha256 } from '../../services/api/src/auth/secrets';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let redis: Redis;

interface Res {
  status: number;
  body: any;
  headers: IncomingHttpHeaders;
}
interface Opts {
  token?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  from?: string;
  headers?: Record<string, string>;
  base?: string;
}

/** One request from a chosen loopback source address. */
function send(method: string, path: string, opts: Opts = {}): Promise<Res> {
  const url = new URL(path, opts.base ?? slipway.url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) Object.assign(headers, { 'x-slipway-csrf': opts.csrf, origin: url.origin });
  if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, localAddress: opts.from ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const tally = (answers: Res[]) => answers.reduce<Record<number, number>>((t, r) => ({ ...t, [r.status]: (t[r.status] ?? 0) + 1 }), {});
const setCookie = (res: Res) => (res.headers['set-cookie'] ?? []).join('\n');

/** Signs in from `from` and returns the cookie and CSRF token. */
async function signIn(username: string, password: string, from: string, base?: string): Promise<{ cookie: string; csrf: string }> {
  const res = await send('POST', '/api/auth/login', { body: { username, password }, from, base });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { cookie: setCookie(res).split(';')[0]!, csrf: res.body.csrf };
}

async function createUser(name: string, role: string): Promise<void> {
  const res = await send('POST', '/api/users', { token: slipway.token, body: { name, role, password: `${name}-password-123` } });
  expect(res.status).toBe(201);
}

beforeAll(async () => {
  slipway = await startSlipway({ env: { SLIPWAY_TRUSTED_PROXIES: '127.0.0.1' } });
  redis = new Redis(slipway.redisUrl);
  for (const [name, role] of [['victim', 'read'], ['minter', 'deploy'], ['proxied', 'read']] as const) await createUser(name, role);
});
afterAll(async () => {
  redis?.disconnect();
  await slipway?.stop();
});

describe('login limits hold against parallel bursts', () => {
  it('lets no more than 5 guesses at one user reach the password hash (50 at once from 50 addresses)', async () => {
    const burst = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send('POST', '/api/auth/login', { body: { username: 'victim', password: `wrong-password-${i}` }, from: `127.0.1.${i + 1}` })),
    );
    const counts = tally(burst);
    // A 401 is answered only after the password hash was computed; a 429 before it.
    console.log(`login burst on one user: ${counts[401] ?? 0} reached the hash (401), ${counts[429] ?? 0} refused first (429)`);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(5);
    expect((counts[401] ?? 0) + (counts[429] ?? 0)).toBe(50);
    expect(burst.find((r) => r.status === 429)?.headers['retry-after']).toBeDefined();
    // Locked: even the right password waits.
    expect((await send('POST', '/api/auth/login', { body: { username: 'victim', password: 'victim-password-123' }, from: '127.0.1.99' })).status).toBe(429);
  });

  it('lets no more than 10 guesses from one address reach the hash (50 at once over 50 user names)', async () => {
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => send('POST', '/api/auth/login', { body: { username: `nobody${i}`, password: 'wrong-password' }, from: '127.0.2.1' })));
    const counts = tally(burst);
    console.log(`login burst from one address: ${counts[401] ?? 0} reached the hash (401), ${counts[429] ?? 0} refused first (429)`);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(10);
    expect((counts[401] ?? 0) + (counts[429] ?? 0)).toBe(50);
  });

  it('lets no more than 10 wrong setup tokens from one address be tried (50 at once)', async () => {
    const burst = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send('POST', '/api/auth/setup', { body: { token: `slw_wrong${String(i).padStart(40, '0')}`, password: 'setup-password-123' }, from: '127.0.3.1' })),
    );
    const counts = tally(burst);
    console.log(`setup burst from one address: ${counts[403] ?? 0} tried (403), ${counts[429] ?? 0} refused first (429)`);
    expect(counts[403] ?? 0).toBeLessThanOrEqual(10);
    expect((counts[403] ?? 0) + (counts[429] ?? 0)).toBe(50);
  });

  it('gives a successful login its point back', async () => {
    // 9 failures and 3 successes from one address: with the successes counted, the third would be refused.
    for (let i = 0; i < 9; i++) expect((await send('POST', '/api/auth/login', { body: { username: `someone${i}`, password: 'wrong-password' }, from: '127.0.4.1' })).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await send('POST', '/api/auth/login', { body: { username: 'minter', password: 'minter-password-123' }, from: '127.0.4.1' })).status).toBe(200);
    expect((await send('POST', '/api/auth/login', { body: { username: 'someone9', password: 'wrong-password' }, from: '127.0.4.1' })).status).toBe(401);
    expect((await send('POST', '/api/auth/login', { body: { username: 'someone10', password: 'wrong-password' }, from: '127.0.4.1' })).status).toBe(429);
  });
});

describe('tokens cannot outgrow their parent', () => {
  const mint = (by: Opts, body: Record<string, unknown>) => send('POST', '/api/tokens', { ...by, body });
  const works = async (token: string) => (await send('GET', '/api/apps', { token })).status;

  it('gives a child at most its parent’s expiry and scope, and records the parent', async () => {
    const adminId = sha256(slipway.token).slice(0, 16);
    // A parent without expiry may mint any expiry.
    const parent = await mint({ token: slipway.token }, { name: 'ci', scope: 'deploy', expiresInDays: 10 });
    expect(parent.status).toBe(201);
    expect(parent.body.info.parent).toBe(adminId);
    const long = await mint({ token: slipway.token }, { name: 'long', scope: 'read', expiresInDays: 3650 });
    expect(long.status).toBe(201);

    // No expiry asked: the parent's.
    const child = await mint({ token: parent.body.token }, { name: 'child', scope: 'read' });
    expect(child.status).toBe(201);
    expect(child.body.info).toMatchObject({ parent: parent.body.info.id, expiresAt: parent.body.info.expiresAt });
    // Shorter is fine; longer or wider is refused.
    const shorter = await mint({ token: parent.body.token }, { name: 'shorter', scope: 'read', expiresInDays: 2 });
    expect(shorter.status).toBe(201);
    expect(Date.parse(shorter.body.info.expiresAt)).toBeLessThan(Date.parse(parent.body.info.expiresAt));
    const longer = await mint({ token: parent.body.token }, { name: 'longer', scope: 'read', expiresInDays: 30 });
    expect(longer.status).toBe(403);
    expect(longer.body.error.message).toMatch(/outlive/);
    expect((await mint({ token: parent.body.token }, { name: 'wider', scope: 'admin' })).status).toBe(403);
    expect((await mint({ token: child.body.token }, { name: 'wider', scope: 'deploy' })).status).toBe(403);
  });

  it('revokes every token a token minted, and theirs, with it', async () => {
    const parent = await mint({ token: slipway.token }, { name: 'parent', scope: 'deploy' });
    const child = await mint({ token: parent.body.token }, { name: 'child', scope: 'deploy' });
    const grandchild = await mint({ token: child.body.token }, { name: 'grandchild', scope: 'read' });
    expect(grandchild.body.info.parent).toBe(child.body.info.id);
    const sibling = await mint({ token: slipway.token }, { name: 'sibling', scope: 'read' });
    for (const t of [parent, child, grandchild, sibling]) expect(await works(t.body.token)).toBe(200);

    expect((await send('DELETE', `/api/tokens/${parent.body.info.id}`, { token: slipway.token })).status).toBe(204);
    for (const t of [parent, child, grandchild]) expect(await works(t.body.token), t.body.info.name).toBe(401);
    expect(await works(sibling.body.token)).toBe(200);
    const listed = (await send('GET', '/api/tokens', { token: slipway.token })).body.tokens.map((t: { id: string }) => t.id);
    for (const t of [parent, child, grandchild]) expect(listed).not.toContain(t.body.info.id);

    // A minted token whose parent is gone never works, even if the revocation was cut short.
    const orphanParent = await mint({ token: slipway.token }, { name: 'orphan-parent', scope: 'read' });
    const orphan = await mint({ token: orphanParent.body.token }, { name: 'orphan', scope: 'read' });
    await redis.del(`slipway:token:${await redis.hget('slipway:tokens:byid', orphanParent.body.info.id)}`);
    await redis.hdel('slipway:tokens:byid', orphanParent.body.info.id);
    expect(await works(orphan.body.token)).toBe(401);
  });

  it('makes tokens minted from a panel session roots of the user’s tree', async () => {
    const session = await signIn('minter', 'minter-password-123', '127.0.5.1');
    const root = await mint(session, { name: 'from-session', scope: 'deploy' });
    expect(root.status).toBe(201);
    expect(root.body.info).toMatchObject({ parent: null, expiresAt: null });
    expect((await mint(session, { name: 'wider', scope: 'admin' })).status).toBe(403);
  });
});

describe('the first-start admin token', () => {
  it('stops working once the admin has a password, with what it minted, and is not brought back', async () => {
    const minted = await send('POST', '/api/tokens', { token: slipway.token, body: { name: 'made-before-setup', scope: 'admin' } });
    const session = await signIn('minter', 'minter-password-123', '127.0.6.1');
    const unrelated = await send('POST', '/api/tokens', { ...session, body: { name: 'unrelated', scope: 'read' } });
    expect((await send('GET', '/api/apps', { token: slipway.token })).status).toBe(200);

    const setup = await send('POST', '/api/auth/setup', { body: { token: slipway.token, password: 'admin-password-123' }, from: '127.0.6.1' });
    expect(setup.status).toBe(200);
    expect((await send('GET', '/api/apps', { token: slipway.token })).status).toBe(401);
    expect((await send('GET', '/api/apps', { token: minted.body.token })).status).toBe(401);
    expect((await send('GET', '/api/apps', { token: unrelated.body.token })).status).toBe(200);

    // Redis losing the token's records does not bring SLIPWAY_ADMIN_TOKEN back, nor does a restart.
    const id = sha256(slipway.token).slice(0, 16);
    await redis.del(`slipway:token:${sha256(slipway.token)}`);
    await redis.hdel('slipway:tokens:byid', id);
    expect((await send('GET', '/api/apps', { token: slipway.token })).status).toBe(401);
    const bootRedis = new Redis(slipway.redisUrl);
    await bootstrapAdmin(bootRedis, new Accounts(bootRedis, slipway.token), slipway.token);
    bootRedis.disconnect();
    expect((await send('GET', '/api/apps', { token: slipway.token })).status).toBe(401);

    // The admin signs in with the password and makes tokens of its own.
    const admin = await signIn('admin', 'admin-password-123', '127.0.6.2');
    const own = await send('POST', '/api/tokens', { ...admin, body: { name: 'after-setup', scope: 'admin' } });
    expect(own.status).toBe(201);
    expect((await send('GET', '/api/users', { token: own.body.token })).status).toBe(200);
  });
});

describe('X-Forwarded-* from trusted proxies only', () => {
  it('marks the session cookie Secure when a trusted proxy says the request came over HTTPS', async () => {
    const viaProxy = await send('POST', '/api/auth/login', { body: { username: 'proxied', password: 'proxied-password-123' }, headers: { 'x-forwarded-proto': 'https' } });
    expect(viaProxy.status).toBe(200);
    expect(setCookie(viaProxy)).toMatch(/slipway_session=[^;]+;.*\bsecure\b/i);
    const plain = await send('POST', '/api/auth/login', { body: { username: 'proxied', password: 'proxied-password-123' } });
    expect(setCookie(plain)).not.toMatch(/\bsecure\b/i);
    // The same header from anyone else is not believed.
    const forged = await send('POST', '/api/auth/login', { body: { username: 'proxied', password: 'proxied-password-123' }, headers: { 'x-forwarded-proto': 'https' }, from: '127.0.7.1' });
    expect(forged.status).toBe(200);
    expect(setCookie(forged)).not.toMatch(/\bsecure\b/i);
  });

  it('limits and audits the client a trusted proxy names, and ignores the header from anyone else', async () => {
    const fail = (i: number, from: string, xff: string) =>
      send('POST', '/api/auth/login', { body: { username: `stranger${from.replace(/\./g, '')}${i}`, password: 'wrong-password' }, from, headers: { 'x-forwarded-for': xff } });
    // Through the trusted proxy: the limit is per client it names.
    for (let i = 0; i < 10; i++) expect((await fail(i, '127.0.0.1', '198.51.100.7')).status).toBe(401);
    expect((await fail(10, '127.0.0.1', '198.51.100.7')).status).toBe(429);
    expect((await fail(11, '127.0.0.1', '198.51.100.8')).status).toBe(401);
    // A client cannot pick its address by sending its own header to a proxy that appends.
    expect((await fail(12, '127.0.0.1', '203.0.113.50, 198.51.100.7')).status).toBe(429);
    const audit = (await send('GET', '/api/audit?action=auth.login&limit=1000', { token: (await send('POST', '/api/tokens', { ...(await signIn('admin', 'admin-password-123', '127.0.7.9')), body: { name: 'audit', scope: 'admin' } })).body.token })).body.entries;
    expect(audit.some((e: { ip: string }) => e.ip === '198.51.100.7')).toBe(true);
    expect(audit.some((e: { ip: string }) => e.ip === '203.0.113.50')).toBe(false);

    // From an untrusted peer a new X-Forwarded-For each time changes nothing: the peer is the key.
    for (let i = 0; i < 10; i++) expect((await fail(i, '127.0.8.1', `198.51.100.${100 + i}`)).status).toBe(401);
    expect((await fail(10, '127.0.8.1', '198.51.100.200')).status).toBe(429);
  });

  describe('without SLIPWAY_TRUSTED_PROXIES', () => {
    let plain: Slipway;
    beforeAll(async () => {
      plain = await startSlipway();
      const res = await send('POST', '/api/users', { base: plain.url, token: plain.token, body: { name: 'proxied', role: 'read', password: 'proxied-password-123' } });
      expect(res.status).toBe(201);
    });
    afterAll(async () => {
      await plain?.stop();
    });

    it('believes no X-Forwarded-Proto or X-Forwarded-For, even from loopback', async () => {
      const login = await send('POST', '/api/auth/login', { base: plain.url, body: { username: 'proxied', password: 'proxied-password-123' }, headers: { 'x-forwarded-proto': 'https' } });
      expect(login.status).toBe(200);
      expect(setCookie(login)).not.toMatch(/\bsecure\b/i);
      for (let i = 0; i < 10; i++) {
        const res = await send('POST', '/api/auth/login', { base: plain.url, body: { username: `stranger${i}`, password: 'wrong-password' }, headers: { 'x-forwarded-for': `198.51.100.${i}` } });
        expect(res.status).toBe(401);
      }
      const next = await send('POST', '/api/auth/login', { base: plain.url, body: { username: 'stranger10', password: 'wrong-password' }, headers: { 'x-forwarded-for': '198.51.100.99' } });
      expect(next.status).toBe(429);
    });
  });
});
