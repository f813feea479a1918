import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Security headers on every answer, and a Content-Security-Policy for the panel: its own scripts (and the
 * inline bootstrap script SvelteKit writes, allowed by hash), styles and API only; nothing framed.
 */
export function securityHeaders(scriptHashes: string[] = []): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", ...scriptHashes],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
    crossOriginEmbedderPolicy: false,
    hsts: false,
  }) as unknown as Middleware;
}
