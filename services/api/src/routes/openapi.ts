import { readFileSync } from 'node:fs';
import type Router from '@koa/router';
import { openApiDocument } from '@slipway/contracts/openapi';
import { installPath } from '@slipway/runtime/install-root';
import { apiRouter } from './router';

/**
 * `GET /api/openapi.json`: the API described from its contracts (packages/contracts/src/operations.ts).
 * Behind the gate like every /api route: any token or session (`read`) may read it.
 */
export function openApiRoutes(): Router {
  const router = apiRouter();
  let document: string | undefined;
  router.get('/api/openapi.json', (koa) => {
    // Built at the first request, not at start: the same for the process's whole life.
    document ??= JSON.stringify(openApiDocument(apiVersion()));
    koa.type = 'application/json';
    koa.body = document;
  });
  return router;
}

function apiVersion(): string {
  const pkg = JSON.parse(readFileSync(installPath('package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
