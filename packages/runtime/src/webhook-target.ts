/**
 * Where a webhook may go (issue 12): not to loopback, private, link-local or otherwise internal addresses,
 * unless SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true — a webhook is an HTTP request Slipway makes on a user's behalf,
 * and must not become a way into Slipway's own Redis, API or the host's network.
 * Checked twice: on the URL as written (PUT, settings), and on the address a name resolves to at send time,
 * where the checked address is the one connected to (a name that resolves again to 127.0.0.1 gains nothing).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Two lists: a BlockList also matches IPv4 addresses against IPv6 rules (as ::ffff:a.b.c.d).
const internal4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  internal4.addSubnet(net, prefix, 'ipv4');
}
const internal6 = new BlockList();
for (const [net, prefix] of [
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  internal6.addSubnet(net, prefix, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 included). */
function groups6(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => parseInt(g, 16));
}

/** An IP address that is not on the public internet. Anything that is not an address counts as internal. */
export function isInternalAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return internal4.check(ip, 'ipv4');
  if (family !== 6) return true;
  const g = groups6(ip);
  const embedded4 = () => `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) reach an IPv4 address: judge that one.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return internal4.check(embedded4(), 'ipv4');
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return internal4.check(embedded4(), 'ipv4');
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d.
  if (g.slice(0, 6).every((x) => x === 0)) return true;
  return internal6.check(ip, 'ipv6');
}

/**
 * Why a webhook URL is refused as written, or null: a literal internal address or a `localhost` name.
 * A name that resolves to an internal address is caught at send time instead.
 */
export function refusedTarget(url: string): string | null {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return 'not a URL';
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this machine`;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) && isInternalAddress(bare)) return `${bare} is a loopback, private or link-local address`;
  return null;
}

export class TargetRefusedError extends Error {
  readonly code = 'webhook_target_refused';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `http.request`/`net.connect` that resolves, refuses when any address is internal, and
 * hands back only checked addresses: the socket connects to what was checked, so DNS rebinding gains nothing.
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isInternalAddress(a.address));
    if (bad || !addresses.length) {
      return callback(new TargetRefusedError(`${hostname} resolves to ${bad?.address ?? 'nothing'}, a loopback, private or link-local address`), []);
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}
