import type { Middleware } from 'koa';

/** Placeholder until the SvelteKit panel lands (issue 6): one page that points at the API. */
export function uiRoutes(): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== '/') return next();
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Slipway</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto">
<h1>Slipway</h1><p>The panel is on its way. Meanwhile: <a href="/api/apps">/api/apps</a>, <a href="/api/deploys">/api/deploys</a>, <a href="/api/queue">/api/queue</a>, <a href="/healthz">/healthz</a>.</p>
</body></html>`;
  };
}
