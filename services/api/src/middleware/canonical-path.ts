/**
 * The one spelling of a request path that the gate judges (issue 12, SPEC §5): `/API/apps`, `//api/apps`,
 * `/%61pi/apps` and `/api/./apps` all name `/api/apps` here. The routers are case-sensitive and strict, so a
 * spelling the gate lets through either is the route it was judged as, or reaches no route at all (404).
 */

export type Canonical = { ok: true; path: string } | { ok: false; status: 400 | 404; reason: string };

/** Encodings nested deeper than this are refused rather than peeled further. */
const MAX_DECODES = 4;

export function canonicalPath(raw: string): Canonical {
  let path = raw;
  for (let i = 0; path.includes('%'); i++) {
    if (i === MAX_DECODES) return { ok: false, status: 400, reason: 'the path is percent-encoded too many times over' };
    // An encoded slash or backslash would change where the segments fall after decoding: no route has one.
    if (/%(2f|5c)/i.test(path)) return { ok: false, status: 404, reason: 'encoded "/" or "\\" in the path' };
    try {
      path = decodeURIComponent(path);
    } catch {
      return { ok: false, status: 400, reason: 'the path has a malformed percent-encoding' };
    }
  }
  if (/[\\\0]/.test(path)) return { ok: false, status: 404, reason: 'a backslash or NUL in the path' };
  const segments = path.split('/');
  // Clients resolve dot segments before they send (RFC 3986 §5.2.4); one that arrives is somebody probing.
  if (segments.some((s) => s === '.' || s === '..')) return { ok: false, status: 404, reason: 'a "." or ".." segment in the path' };
  const kept = segments.filter((s) => s !== '');
  return { ok: true, path: `/${kept.join('/')}`.toLowerCase() };
}

/** Paths that belong to the API, however they are spelled: never answered by the panel's pages. */
export function isApiSpace(canonical: string): boolean {
  return canonical === '/api' || canonical.startsWith('/api/') || canonical === '/metrics';
}
