/**
 * The registry client's login (issue 17): Basic for an htpasswd registry is proven against Debian's
 * registry in test/swarm; the Bearer token flow of hosted registries is proven here against a small HTTP
 * server that speaks it (a registry and its token realm).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { challengeParams, deleteTag, registryLogin } from '../src/docker/registry';

const DIGEST = 'sha256:' + 'a'.repeat(64);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A registry holding `app:1.0.0` whose every request must pass `accepts`, else gets `challenge`. */
async function registry(challenge: (port: number, req: IncomingMessage) => string, accepts: (req: IncomingMessage) => boolean, extra?: (req: IncomingMessage) => { status: number; body: unknown } | undefined) {
  const seen: Array<{ method: string; url: string; authorization?: string }> = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    const own = extra?.(req);
    if (own) return void res.writeHead(own.status, { 'content-type': 'application/json' }).end(JSON.stringify(own.body));
    if (!accepts(req)) return void res.writeHead(401, { 'www-authenticate': challenge(port, req) }).end();
    if (req.method === 'HEAD' && req.url === '/v2/app/manifests/1.0.0') return void res.writeHead(200, { 'docker-content-digest': DIGEST }).end();
    if (req.method === 'DELETE' && req.url === `/v2/app/manifests/${DIGEST}`) return void res.writeHead(202).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server!.address() as AddressInfo).port;
  return { address: `127.0.0.1:${port}`, seen };
}

describe('registry login', () => {
  it('is the engine auth config of the registry host, only with credentials', () => {
    expect(registryLogin({ registry: 'registry.example.com:5000/team', registryAuth: { username: 'u', password: 'p' } })).toEqual({ username: 'u', password: 'p', serveraddress: 'registry.example.com:5000' });
    expect(registryLogin({ registry: 'registry.example.com', registryAuth: undefined })).toBeUndefined();
  });

  it('reads a Bearer challenge', () => {
    expect(challengeParams('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:app:pull,delete"')).toEqual({
      realm: 'https://auth.example.com/token',
      service: 'registry.example.com',
      scope: 'repository:app:pull,delete',
    });
  });

  it('answers a Basic challenge, sending the password only once asked', async () => {
    const reg = await registry(() => 'Basic realm="registry"', (req) => req.headers.authorization === basic('deployer', 's3cret'));
    const login = { username: 'deployer', password: 's3cret', serveraddress: reg.address };
    expect(await deleteTag(reg.address, 'app', '1.0.0', login)).toEqual({ removed: true });
    expect(reg.seen.map((r) => [r.method, r.authorization ? 'auth' : 'none'])).toEqual([['HEAD', 'none'], ['HEAD', 'auth'], ['DELETE', 'none'], ['DELETE', 'auth']]);
  });

  it('gets a token from the realm for the scope each request names (Harbor, GitLab, GHCR)', async () => {
    const scopes: string[] = [];
    const reg = await registry(
      (port, req) => `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:app:${req.method === 'DELETE' ? 'delete' : 'pull'}"`,
      (req) => req.headers.authorization === 'Bearer token-for-deployer',
      (req) => {
        if (!req.url!.startsWith('/token')) return undefined;
        const url = new URL(req.url!, 'http://x');
        scopes.push(url.searchParams.get('scope')!);
        if (url.searchParams.get('service') !== 'test-registry') return { status: 400, body: {} };
        return req.headers.authorization === basic('deployer', 's3cret') ? { status: 200, body: { token: 'token-for-deployer' } } : { status: 401, body: {} };
      },
    );
    expect(await deleteTag(reg.address, 'app', '1.0.0', { username: 'deployer', password: 's3cret', serveraddress: reg.address })).toEqual({ removed: true });
    expect(scopes).toEqual(['repository:app:pull', 'repository:app:delete']);
  });

  it('says why when the login is refused or missing, and keeps the tag', async () => {
    const reg = await registry(
      (port) => `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:app:pull"`,
      () => false,
      (req) => (req.url!.startsWith('/token') ? { status: 401, body: {} } : undefined),
    );
    const wrong = await deleteTag(reg.address, 'app', '1.0.0', { username: 'deployer', password: 'wrong', serveraddress: reg.address });
    expect(wrong).toEqual({ removed: false, reason: "the registry's token service refused the login (401)" });
    expect(JSON.stringify(wrong)).not.toContain('wrong');
    const none = await deleteTag(reg.address, 'app', '1.0.0');
    expect(none).toEqual({ removed: false, reason: 'the registry answered 401 (set SLIPWAY_REGISTRY_USER and SLIPWAY_REGISTRY_PASSWORD)' });
    expect(reg.seen.some((r) => r.method === 'DELETE')).toBe(false);
  });
});
