/**
 * One gate for every request (issue 12, SPEC §5): generated from the routers' own route table, every route ×
 * method × spelling (case, `//`, trailing `/`, percent-encoded letters, `/./`, `/x/../`) is tried against a
 * running Slipway. Without credentials none answers below 400; with a `read` token no state-changing route
 * and no admin route answers below 400. The finding this closes: `POST /API/users` made an admin anonymously.
 */
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '@slipway/runtime/config';
import { apiRouters } from '../../services/api/src/app';
import type { ApiContext } from '../../services/api/src/context';
import { requirement } from '../../services/api/src/middleware/auth';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let readToken = '';

interface Route {
  method: string;
  path: string;
}

/** The route table as the routers hold it, with sample values for the parameters. */
function routeTable(s: Slipway): Route[] {
  const redis = new Redis({ lazyConnect: true });
  // Building the routers reads settings and keeps references; nothing is called until a request comes.
  const ctx = new Proxy({ settings: loadSettings({ ...process.env, ...s.env }), redis } as Partial<ApiContext>, {
    get: (target, key) => (key in target ? target[key as keyof ApiContext] : {}),
  }) as ApiContext;
  const routes: Route[] = [];
  for (const router of apiRouters(ctx)) {
    for (const layer of router.stack) {
      const path = String(layer.path).replace(':name', 'demo').replace(':version', '1.0.0').replace(':id', 'dtest0000');
      for (const method of layer.methods) if (method !== 'HEAD') routes.push({ method, path });
    }
  }
  redis.disconnect();
  return routes;
}

/** Other spellings of one path: what a client can send that a lax router or gate could read as the same. */
function spellings(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  const encodeFirst = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  return [
    path.toUpperCase(),
    `/${first[0]!.toUpperCase()}${first.slice(1)}${tail}`,
    `/${first.toUpperCase()}${tail}`,
    `/${path}`,
    `/${first}/${tail}`,
    `${path}/`,
    `/${encodeFirst(first)}${tail}`,
    `/%25${first.charCodeAt(0).toString(16)}${first.slice(1)}${tail}`,
    `/${first}/.${tail}`,
    `/${first}/x/..${tail}`,
    `/${first.slice(0, -1)}%${first.charCodeAt(first.length - 1).toString(16).toUpperCase()}${tail}`,
    path.replace(/[a-z](?=[^/]*$)/, (c) => `%${c.charCodeAt(0).toString(16)}`),
  ].filter((p) => p !== path);
}

/** A request with the path exactly as given (fetch would resolve dot segments and fold some of it). */
function raw(method: string, path: string, token?: string, body = '{}'): Promise<{ status: number; body: string }> {
  const url = new URL(slipway.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          // Server-sent events never end: the status and a first chunk are all this test needs.
          if (res.headers['content-type']?.startsWith('text/event-stream')) res.destroy();
        });
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : body);
  });
}

const PUBLIC = new Set(['/healthz', '/api/auth/login', '/api/auth/setup', '/api/auth/status']);
const isPublic = (r: Route) => PUBLIC.has(r.path);

beforeAll(async () => {
  slipway = await startSlipway();
  const res = await fetch(`${slipway.url}/api/tokens`, {
    method: 'POST',
    headers: { ...slipway.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'reader', scope: 'read' }),
  });
  readToken = ((await res.json()) as { token: string }).token;
  expect(readToken).toMatch(/^slw_/);
});
afterAll(async () => {
  await slipway?.stop();
});

describe('the gate', () => {
  it('judges every spelling of every route the way it judges the route', async () => {
    const routes = routeTable(slipway);
    // The table is the routers' own: a route added later is covered without editing this test.
    expect(routes.length).toBeGreaterThan(30);
    expect(routes).toContainEqual({ method: 'POST', path: '/api/users' });
    const open: string[] = [];
    let tried = 0;
    for (const route of routes.filter((r) => !isPublic(r))) {
      for (const path of [route.path, ...spellings(route.path)]) {
        const { status } = await raw(route.method, path);
        tried++;
        if (![400, 401, 404].includes(status)) open.push(`${route.method} ${path} → ${status}`);
      }
    }
    console.log(`gate: ${tried} anonymous requests over ${routes.length} routes`);
    expect(open).toEqual([]);
  });

  it('refuses a read token every deploy and admin route, however spelled', async () => {
    // Signed-in routes (one's own session and tokens) are open to every scope by design; the rest need more than read.
    const routes = routeTable(slipway).filter((r) => ['deploy', 'admin'].includes(requirement(r.method, r.path)));
    expect(routes).toContainEqual({ method: 'POST', path: '/api/deploys' });
    expect(routes).toContainEqual({ method: 'GET', path: '/api/audit' });
    expect(routes.length).toBeGreaterThan(10);
    const open: string[] = [];
    for (const route of routes) {
      const answers = await Promise.all([route.path, ...spellings(route.path)].map(async (path) => [path, (await raw(route.method, path, readToken)).status] as const));
      // The route as written must be refused by scope (403), not merely missed; its other spellings 403 or 404.
      if (answers[0]![1] !== 403) open.push(`${route.method} ${route.path} → ${answers[0]![1]}`);
      for (const [path, status] of answers.slice(1)) if (![400, 403, 404].includes(status)) open.push(`${route.method} ${path} → ${status}`);
    }
    expect(open).toEqual([]);
  });

  it('makes no admin from an anonymous request, however the path is spelled', async () => {
    for (const path of ['/API/users', '/Api/users', '//api/users', '/%61pi/users', '/api/./users', '/api/users/']) {
      const res = await raw('POST', path, undefined, JSON.stringify({ name: 'mallory', role: 'admin', password: 'correct horse battery staple' }));
      expect(res.status, path).toBeGreaterThanOrEqual(400);
    }
    const users = (await (await fetch(`${slipway.url}/api/users`, { headers: slipway.auth })).json()) as { users: Array<{ name: string }> };
    expect(users.users.map((u) => u.name)).toEqual(['admin']);
  });

  it('serves the routes as written, and other spellings of them as JSON 404s, to a valid token', async () => {
    expect((await raw('GET', '/api/apps', slipway.token)).status).toBe(200);
    expect((await raw('GET', '/metrics', slipway.token)).status).toBe(200);
    for (const path of ['/API/apps', '//api/apps', '/api/apps/', '/api/./apps', '/METRICS']) {
      const res = await raw('GET', path, slipway.token);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body).error.code, path).toBe('not_found');
    }
    // The decoded spelling is the same route, reached through the gate with the token's scope.
    expect((await raw('GET', '/%61pi/apps', slipway.token)).status).toBe(404);
    expect((await raw('GET', '/api/apps/%64emo', slipway.token)).status).toBe(404);
  });
});
