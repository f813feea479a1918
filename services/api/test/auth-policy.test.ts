import { describe, expect, it } from 'vitest';
import { requirement } from '../src/middleware/auth';

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
