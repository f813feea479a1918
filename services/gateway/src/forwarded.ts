/**
 * What the gateway tells an app about the request (issue 12): X-Forwarded-For/-Proto/-Host are written
 * by the gateway from what it saw, and every header by which a client could claim another address or
 * scheme (Forwarded, X-Real-IP, any X-Forwarded-*…) is dropped — unless the peer is one of
 * SLIPWAY_TRUSTED_PROXIES, whose headers are kept and extended.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { forwardedProto, isTrusted, type TrustedProxies } from '@slipway/runtime/proxies';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never forwarded. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

/** Besides every `x-forwarded-*`: headers apps and frameworks read as the client's address or scheme. */
const CLIENT_CLAIMS = new Set(['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-cluster-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-original-forwarded-for', 'front-end-https', 'x-url-scheme']);

export interface ForwardOptions {
  trustedProxies: TrustedProxies;
  /** The scheme the peer used to reach the gateway. */
  proto: 'http' | 'https';
}

/** The headers sent upstream for a request from `peer` (the socket's remote address). */
export function forwardHeaders(headers: IncomingHttpHeaders, peer: string, opts: ForwardOptions, upgrade = false): Record<string, string | string[]> {
  const trusted = isTrusted(peer, opts.trustedProxies);
  const named = new Set((headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (!trusted && (name.startsWith('x-forwarded-') || CLIENT_CLAIMS.has(name))) continue;
    out[name] = value;
  }
  // A dual-stack socket spells an IPv4 peer ::ffff:a.b.c.d; apps expect a.b.c.d.
  const client = peer.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const prior = trusted ? joined(headers['x-forwarded-for']) : undefined;
  out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  out['x-forwarded-proto'] = forwardedProto(peer, joined(headers['x-forwarded-proto']), opts.trustedProxies) ?? opts.proto;
  out['x-forwarded-host'] = (trusted && joined(headers['x-forwarded-host'])) || headers.host || '';
  if (upgrade) delete out['sec-websocket-extensions'];
  return out;
}

/** A header sent several times, as one list. */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
