/**
 * SLIPWAY_REGISTRY's HTTP API (Docker Registry v2), for what the engine cannot do: removing a tag. A
 * registry answers in TLS unless it is on loopback or the operator listed it as insecure, as the engine
 * itself decides; plain HTTP is tried when a TLS connection cannot be made.
 */
const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json'];

/** Deletes `repo:tag` from the registry: `removed`, `missing`, or why it could not (deletion disabled, …). */
export async function deleteTag(registry: string, repo: string, tag: string): Promise<{ removed: boolean; reason?: string }> {
  for (const scheme of ['https', 'http']) {
    const base = `${scheme}://${registry}/v2/${repo}/manifests`;
    let head: Response;
    try {
      head = await fetch(`${base}/${encodeURIComponent(tag)}`, { method: 'HEAD', headers: { accept: MANIFEST_TYPES.join(', ') }, signal: AbortSignal.timeout(10_000) });
    } catch {
      continue;
    }
    if (head.status === 404) return { removed: false, reason: 'not in the registry' };
    const digest = head.headers.get('docker-content-digest');
    if (!head.ok || !digest) return { removed: false, reason: `the registry answered ${head.status}` };
    const res = await fetch(`${base}/${digest}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
    if (res.status === 202 || res.status === 404) return { removed: res.status === 202 };
    return { removed: false, reason: res.status === 405 ? 'the registry does not allow deletion (storage.delete.enabled)' : `the registry answered ${res.status}` };
  }
  return { removed: false, reason: 'the registry could not be reached' };
}
