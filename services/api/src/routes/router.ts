import Router from '@koa/router';

/**
 * Every API router: case-sensitive and strict (no optional trailing slash), so the one spelling the gate
 * judged is the only one that reaches a route (issue 12). Paths are written out in full, no prefixes: with
 * `strict`, a prefixed root route would only answer with a trailing slash.
 */
export function apiRouter(): Router {
  return new Router({ sensitive: true, strict: true });
}
