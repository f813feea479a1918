/**
 * SLIPWAY_TRUSTED_PROXIES (SPEC §1): the addresses whose X-Forwarded-* headers the API and the gateway
 * believe. Everyone else's are ignored, so a client cannot choose the address it is rate-limited and
 * audited by, nor make a plain-HTTP request look like HTTPS.
 */
import { BlockList, isIP } from 'node:net';

/** Normalised `address/prefix` entries, e.g. `127.0.0.1/32`, `10.0.0.0/8`, `fd00::/8`. */
export type TrustedProxies = readonly string[];

/** Parses the setting's comma-separated IPs and CIDRs. */
export function parseTrustedProxies(text: string): { ok: true; list: string[] } | { ok: false; problem: string } {
  const list: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address = '', prefix, extra] = item.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!family || extra !== undefined || !(bits >= 0 && bits <= max)) {
      return { ok: false, problem: `"${item}" is not an IP address or CIDR (like 10.0.0.0/8 or fd00::/8)` };
    }
    list.push(`${address}/${bits}`);
  }
  return { ok: true, list };
}

type Family = 'ipv4' | 'ipv6';
const compiled = new WeakMap<TrustedProxies, Record<Family, BlockList>>();

/**
 * One rule set per family: a single BlockList matches IPv4 addresses against IPv6 rules too (through
 * their mapped form), so `::/0` would trust every IPv4 peer.
 */
function blockLists(list: TrustedProxies): Record<Family, BlockList> {
  let rules = compiled.get(list);
  if (!rules) {
    rules = { ipv4: new BlockList(), ipv6: new BlockList() };
    for (const entry of list) {
      const [address = '', prefix] = entry.split('/');
      const family: Family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      rules[family].addSubnet(address, Number(prefix), family);
    }
    compiled.set(list, rules);
  }
  return rules;
}

/** An address as sockets and proxies spell it (`::ffff:1.2.3.4`, `1.2.3.4:567`, `[::1]:89`), plain; '' if it is none. */
function plain(address: string): string {
  let a = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a)) a = a.slice(7);
  return isIP(a) ? a : '';
}

export function isTrusted(address: string, list: TrustedProxies): boolean {
  const a = plain(address);
  if (!a || !list.length) return false;
  const family: Family = isIP(a) === 6 ? 'ipv6' : 'ipv4';
  return blockLists(list)[family].check(a, family);
}

/**
 * The client's address: the peer itself unless it is a trusted proxy; then X-Forwarded-For read from the
 * right (the hop nearest to us) past every trusted hop. Entries left of the first untrusted one were
 * written by the client itself and are never believed.
 */
export function forwardedClient(peer: string, forwardedFor: string | undefined, list: TrustedProxies): string {
  let client = plain(peer) || peer;
  if (!isTrusted(peer, list) || !forwardedFor) return client;
  const hops = forwardedFor.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain(hops[i]!);
    if (!hop) break;
    client = hop;
    if (!isTrusted(hop, list)) break;
  }
  return client;
}

/** `http` or `https` as the nearest trusted proxy saw it; undefined when there is none to believe. */
export function forwardedProto(peer: string, forwardedProto: string | undefined, list: TrustedProxies): 'http' | 'https' | undefined {
  if (!forwardedProto || !isTrusted(peer, list)) return undefined;
  const nearest = forwardedProto.split(',').pop()!.trim().toLowerCase();
  return nearest === 'http' || nearest === 'https' ? nearest : undefined;
}
