/**
 * `node dist/slipway.js healthcheck`: the container healthcheck of each role (compose.yaml). The API is
 * healthy when it answers /healthz at all (503 only means the engine or Redis is away, which restarting the
 * API would not fix); the gateway when it answers HTTP; the worker when the API counts a fresh heartbeat of
 * a worker that reaches the engine (the worker serves no HTTP of its own).
 */
import type { Settings } from '@slipway/runtime/config';

const TIMEOUT_MS = 3000;

async function get(url: string): Promise<Response | null> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, { signal: abort.signal, redirect: 'manual' });
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Loopback when the service listens on every address. */
const local = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host);

export async function healthy(settings: Readonly<Settings>): Promise<boolean> {
  const api = `http://${local(settings.host)}:${settings.port}/healthz`;
  switch (settings.role) {
    case 'gateway':
      return (await get(`http://${local(settings.gatewayHost)}:${settings.gatewayPort}/`)) !== null;
    case 'worker': {
      const res = await get(api);
      const body = res ? ((await res.json().catch(() => ({}))) as { workers?: number; docker?: boolean }) : {};
      return (body.workers ?? 0) > 0 && body.docker === true;
    }
    default: {
      const res = await get(api);
      return res?.status === 200 || res?.status === 503;
    }
  }
}
