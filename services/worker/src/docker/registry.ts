/**
 * SLIPWAY_REGISTRY's HTTP API (Docker Registry v2), for what the engine cannot do: removing a tag. A
 * registry answers in TLS unless it is on loopback or the operator listed it as insecure, as the engine
 * itself decides; plain HTTP is tried when a TLS connection cannot be made.
 *
 * With SLIPWAY_REGISTRY_USER, the same login goes to the engine for its pushes and to Swarm for every
 * node's pulls (`RegistryLogin`), and here answers the registry's challenge: Basic (htpasswd) or a Bearer
 * token from the realm it names (Harbor, GitLab, GHCR, Docker Hub).
 */
import type { Settings } from '@slipway/runtime/config';

const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json'];

/** The engine's auth config (X-Registry-Auth) for a registry. */
export interface RegistryLogin {
  username: string;
  password: string;
  serveraddress: string;
}

/** The login on SLIPWAY_REGISTRY (`host[:port][/path]`), when its credentials are set. */
export function registryLogin({ registry, registryAuth }: Pick<Settings, 'registry' | 'registryAuth'>): RegistryLogin | undefined {
  if (!registry || !registryAuth) return undefined;
  return { username: registryAuth.username, password: registryAuth.password, serveraddress: registry.split('/')[0]! };
}

/** Deletes `repo:tag` from the registry: `removed`, `missing`, or why it could not (deletion disabled, …). */
export async function deleteTag(registry: string, repo: string, tag: string, login?: RegistryLogin): Promise<{ removed: boolean; reason?: string }> {
  for (const scheme of ['https', 'http']) {
    const base = `${scheme}://${registry}/v2/${repo}/manifests`;
    let head: Response;
    try {
      head = await authorized(`${base}/${encodeURIComponent(tag)}`, { method: 'HEAD', headers: { accept: MANIFEST_TYPES.join(', ') } }, login);
    } catch (err) {
      if (err instanceof RegistryAuthError) return { removed: false, reason: err.message };
      continue;
    }
    if (head.status === 404) return { removed: false, reason: 'not in the registry' };
    const digest = head.headers.get('docker-content-digest');
    if (!head.ok || !digest) return { removed: false, reason: `the registry answered ${head.status}${head.status === 401 ? ' (set SLIPWAY_REGISTRY_USER and SLIPWAY_REGISTRY_PASSWORD)' : ''}` };
    const res = await authorized(`${base}/${digest}`, { method: 'DELETE' }, login);
    if (res.status === 202 || res.status === 404) return { removed: res.status === 202 };
    return { removed: false, reason: res.status === 405 ? 'the registry does not allow deletion (storage.delete.enabled)' : `the registry answered ${res.status}` };
  }
  return { removed: false, reason: 'the registry could not be reached' };
}

class RegistryAuthError extends Error {}

/**
 * One request, answering a 401's challenge once with `login`: Basic directly, Bearer with a token asked of
 * the challenge's realm for the scope it names. Credentials are only sent once the registry asks for them.
 */
async function authorized(url: string, init: RequestInit, login: RegistryLogin | undefined): Promise<Response> {
  const send = (authorization?: string) =>
    fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(authorization ? { authorization } : {}) }, signal: AbortSignal.timeout(10_000) });
  const first = await send();
  const challenge = first.headers.get('www-authenticate');
  if (first.status !== 401 || !login || !challenge) return first;
  const basic = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
  const scheme = challenge.split(' ')[0]!.toLowerCase();
  if (scheme === 'basic') return send(basic);
  if (scheme !== 'bearer') return first;
  const params = challengeParams(challenge);
  if (!params.realm) throw new RegistryAuthError('the registry\'s Bearer challenge names no realm');
  const tokenUrl = new URL(params.realm);
  if (params.service) tokenUrl.searchParams.set('service', params.service);
  if (params.scope) tokenUrl.searchParams.set('scope', params.scope);
  const res = await fetch(tokenUrl, { headers: { authorization: basic }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new RegistryAuthError(`the registry's token service refused the login (${res.status})`);
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new RegistryAuthError('the registry\'s token service answered no token');
  return send(`Bearer ${token}`);
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function challengeParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.slice(header.indexOf(' ') + 1).matchAll(/([a-zA-Z]+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return params;
}
