/**
 * The OpenAPI document against what it describes: the routers' own route table (every route documented,
 * nothing else), the gate's policy table (the access each operation declares is the one enforced), and
 * docs/api.md (the same routes in its tables). A route added without its row in operations.ts fails here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { openApiDocument, routerPath } from '@slipway/contracts/openapi';
import { OPERATIONS } from '@slipway/contracts/operations';
import { loadSettings } from '@slipway/runtime/config';
import { apiRouters } from '../src/app';
import type { ApiContext } from '../src/context';
import { requirement } from '../src/middleware/auth';
import { openApiRoutes } from '../src/routes/openapi';

const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-openapi-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `METHOD /path` as the routers hold them (`:name`), as test/security/gate.test.ts reads them; HEAD comes with GET. */
function routeTable(): string[] {
  const redis = new Redis({ lazyConnect: true });
  // Building the routers reads settings and keeps references; nothing is called until a request comes.
  const ctx = new Proxy({ settings: loadSettings({ SLIPWAY_DATA_DIR: dataDir }), redis } as Partial<ApiContext>, {
    get: (target, key) => (key in target ? target[key as keyof ApiContext] : {}),
  }) as ApiContext;
  const routes: string[] = [];
  for (const router of apiRouters(ctx)) {
    for (const layer of router.stack) for (const method of layer.methods) if (method !== 'HEAD') routes.push(`${method} ${String(layer.path)}`);
  }
  redis.disconnect();
  return routes;
}

const documented = () => OPERATIONS.map((op) => `${op.method} ${routerPath(op.path)}`);

/** A path the gate can judge: parameters filled in with sample values. */
const sample = (routePath: string) => routePath.replace(':name', 'demo').replace(':version', '1.0.0').replace(':id', 'dtest0000');

/** The routes docs/api.md's tables list: code spans such as `GET /api/apps/:name` or `GET/POST /api/users`, in the first cell. */
function docRoutes(): string[] {
  const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
  const routes: string[] = [];
  for (const line of doc.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? '';
    for (const [, span = ''] of first.matchAll(/`([^`]+)`/g)) {
      const m = /^([A-Z]+(?:\/[A-Z]+)*) (\/[^?\s]*)/.exec(span);
      if (m) for (const method of m[1]!.split('/')) routes.push(`${method} ${m[2]}`);
    }
  }
  return routes;
}

describe('the OpenAPI document', () => {
  it('describes every route of the routers, and nothing else', () => {
    const routes = routeTable();
    expect(routes.length).toBeGreaterThan(30);
    expect(new Set(routes).size).toBe(routes.length);
    expect(documented().sort()).toEqual([...routes].sort());
  });

  it('declares for each operation the access the gate enforces', () => {
    const wrong = OPERATIONS.filter((op) => requirement(op.method, sample(routerPath(op.path))) !== op.access).map(
      (op) => `${op.method} ${op.path}: declares ${op.access}, the gate wants ${requirement(op.method, sample(routerPath(op.path)))}`,
    );
    expect(wrong).toEqual([]);
  });

  it('lists the same routes as docs/api.md', () => {
    const doc = docRoutes();
    expect(new Set(doc).size, 'a route listed twice in docs/api.md').toBe(doc.length);
    expect([...doc].sort()).toEqual(documented().sort());
  });

  it('is a consistent OpenAPI 3.1 document', () => {
    const document = openApiDocument('0.0.0') as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    expect(document.openapi).toBe('3.1.0');
    const ids = Object.values(document.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(OPERATIONS.length);
    // Every $ref points at something in the document.
    const text = JSON.stringify(document);
    for (const [, ref = ''] of text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
      const target = ref.split('/').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
      expect(target, ref).toBeDefined();
    }
  });

  it('is served at GET /api/openapi.json', async () => {
    const app = new Koa().use(openApiRoutes().routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as { openapi: string; info: { version: string }; paths: Record<string, unknown> };
      expect(body.openapi).toBe('3.1.0');
      expect(body.info.version).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
      expect(Object.keys(body.paths)).toContain('/api/apps/{name}');
    } finally {
      server.close();
    }
  });
});
