import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Security headers on every answer, and a Content-Security-Policy for the panel: its own scripts, styles
 * and API only; nothing framed, nothing inline but the styles Svelte sets on elements.
 */
export function securityHeaders(): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
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
