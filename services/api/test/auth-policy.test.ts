import { describe, expect, it } from 'vitest';
import { requirement } from '../src/middleware/auth';
import { canonicalPath, isApiSpace } from '../src/middleware/canonical-path';

describe('the route policy table', () => {
  it.each([
    ['GET', '/healthz', 'public'],
    ['POST', '/api/auth/login', 'public'],
    ['POST', '/api/auth/setup', 'public'],
    ['GET', '/api/auth/status', 'public'],
    ['GET', '/', 'public'],
    ['GET', '/apps/shop', 'public'],
    ['GET', '/api/auth/me', 'signed-in'],
    ['POST', '/api/tokens', 'signed-in'],
    ['GET', '/api/apps', 'read'],
    ['GET', '/api/apps/shop/logs/stream', 'read'],
    ['GET', '/api/events', 'read'],
    ['GET', '/metrics', 'read'],
    ['POST', '/api/deploys', 'deploy'],
    ['POST', '/api/apps/shop/rollback', 'deploy'],
    ['POST', '/api/deploys/d123/retry', 'deploy'],
    ['POST', '/api/deploys/d123/cancel', 'deploy'],
    ['POST', '/api/apps/shop/stop', 'deploy'],
    ['POST', '/api/apps/shop/versions/1.0.0/rebuild', 'deploy'],
    ['PUT', '/api/apps/shop', 'admin'],
    ['DELETE', '/api/apps/shop', 'admin'],
    ['GET', '/api/users', 'admin'],
    ['GET', '/api/audit', 'admin'],
  ])('%s %s needs %s', (method, path, need) => expect(requirement(method, path)).toBe(need));

  it('closes anything under /api it does not know to all but admins', () => {
    expect(requirement('POST', '/api/something-new')).toBe('admin');
    expect(requirement('PATCH', '/api/apps/shop')).toBe('admin');
    expect(requirement('POST', '/api/apps/shop/rollback/../../users')).toBe('admin');
  });
});

describe('the canonical path the gate judges', () => {
  it.each([
    ['/api/apps', '/api/apps'],
    ['/API/apps', '/api/apps'],
    ['//api//apps/', '/api/apps'],
    ['/%61pi/apps', '/api/apps'],
    ['/%2561pi/apps', '/api/apps'],
    ['/METRICS', '/metrics'],
    ['/', '/'],
  ])('%s is judged as %s', (raw, canonical) => expect(canonicalPath(raw)).toEqual({ ok: true, path: canonical }));

  it.each([
    ['/api/./apps', 404],
    ['/api/x/../users', 404],
    ['/api/%2e%2e/users', 404],
    ['/api/apps%2fdemo', 404],
    ['/api/apps%5cdemo', 404],
    ['/api\\apps', 404],
    ['/api/%E0%A4%A', 400],
    ['/%2525252561pi/apps', 400],
  ])('%s is refused with %i', (raw, status) => expect(canonicalPath(raw)).toMatchObject({ ok: false, status }));

  it('keeps the API space apart from the panel', () => {
    expect(isApiSpace('/api')).toBe(true);
    expect(isApiSpace('/api/apps')).toBe(true);
    expect(isApiSpace('/metrics')).toBe(true);
    expect(isApiSpace('/apps/shop')).toBe(false);
    expect(isApiSpace('/apix')).toBe(false);
  });
});
