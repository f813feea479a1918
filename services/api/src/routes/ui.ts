/**
 * The panel: SvelteKit's static build (`ui/build`), served at `/` with every other non-API path answered
 * by `index.html` (a single-page app). Hashed assets under `_app/immutable` are cached for a year.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';
import serve from 'koa-static';
import { installPath } from '@slipway/runtime/install-root';

export const UI_BUILD = installPath('ui', 'build');

/** Hashes of the inline scripts SvelteKit puts in index.html, for the Content-Security-Policy. */
export function inlineScriptHashes(dir = UI_BUILD): string[] {
  const index = path.join(dir, 'index.html');
  if (!existsSync(index)) return [];
  const html = readFileSync(index, 'utf8');
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`,
  );
}

export function uiRoutes(dir = UI_BUILD): Middleware {
  const index = path.join(dir, 'index.html');
  if (!existsSync(index)) return placeholder();
  const html = readFileSync(index);
  const files = serve(dir, {
    index: false,
    setHeaders: (res, file) => {
      if (file.includes(`${path.sep}_app${path.sep}immutable${path.sep}`)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    },
  });
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.path.startsWith('/api/') || ctx.path === '/metrics' || ctx.path === '/healthz') return next();
    await files(ctx, async () => {});
    if (ctx.body !== undefined && ctx.body !== null) return;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = html;
  };
}

/** Before `npm run build` has made the panel: one page that says so. */
function placeholder(): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== '/') return next();
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Slipway</title></head>
<body><h1>Slipway</h1><p>The panel is not built yet: run <code>npm run build</code> (npm start does it for you).</p></body></html>`;
  };
}
