/**
 * The bridge networks Slipway makes (SPEC §3 "Networks"): one per app, so an app's containers reach each
 * other and no other app's (Docker isolates bridges from one another), and one per installation for builds,
 * with inter-container traffic off so concurrent builds cannot reach each other either.
 *
 * Subnets are /24s from SLIPWAY_NETWORK_POOL, not Docker's default pools: those hold about 30 bridge
 * networks per engine, so an engine with more apps than that would refuse the next one.
 * Errors are the engine's own; Engine wraps them.
 */
import type Docker from 'dockerode';
import { LABEL } from './labels';

/** App names cannot hold `_`, so no app's network can take the build network's name. */
export const buildNetworkName = (instance: string) => `slipway_build_${instance}`;
export const appNetworkName = (app: string, instance: string) => `slipway-${app}-${instance}`;
/** Under Swarm an app's network spans the nodes (an overlay); its own name, so a bridge of docker mode never stands in its way. */
export const appOverlayName = (app: string, instance: string) => `slipway-${app}-${instance}-swarm`;

export interface NetworkOptions {
  /** Containers of the network may reach each other (a bridge option; an overlay's always may). */
  icc: boolean;
  pool: string;
  /** `overlay`: across a swarm's nodes. */
  driver?: 'bridge' | 'overlay';
}

export class NetworkClient {
  /** Docker's duplicate-name check is not atomic: builds and starts in this process make a network once. */
  private readonly making = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    private readonly instance: string | undefined,
  ) {}

  /** The network `name`, created with `labels` and a /24 of `pool` when missing. Returns its id. */
  ensure(name: string, labels: Record<string, string>, opts: NetworkOptions): Promise<string> {
    let made = this.making.get(name);
    if (!made) {
      made = this.ensureOnce(name, labels, opts).finally(() => this.making.delete(name));
      this.making.set(name, made);
    }
    return made;
  }

  private async ensureOnce(name: string, labels: Record<string, string>, opts: NetworkOptions): Promise<string> {
    // Subnets refused as overlapping: another network is being made on them, not listed yet.
    const refused: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const existing = await this.oldest(name);
      if (existing) {
        if (this.instance && existing.Labels?.[LABEL.instance] !== this.instance) {
          throw new Error(`a network named ${name} exists and was not made by this Slipway; remove it`);
        }
        return existing.Id;
      }
      const subnet = freeSubnet(opts.pool, [...(await this.subnetsInUse()), ...refused]);
      if (!subnet) throw new Error(`no free /24 is left in SLIPWAY_NETWORK_POOL (${opts.pool}); widen it or delete unused apps`);
      try {
        const created = await this.docker.createNetwork({
          Name: name,
          Driver: opts.driver ?? 'bridge',
          CheckDuplicate: true,
          Labels: labels,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
          Options: opts.driver === 'overlay' ? {} : { 'com.docker.network.bridge.enable_icc': String(opts.icc) },
        });
        return created.id;
      } catch (err) {
        // Another worker (or installation) took the name or the subnet meanwhile: look again.
        const message = messageOf(err);
        if (attempt >= 10 || !/already exists|overlaps/i.test(message)) throw err;
        if (/overlaps/i.test(message)) refused.push(subnet);
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  /** Removes this installation's networks carrying `labels` (an app's, on its deletion). */
  async remove(labels: Record<string, string>): Promise<number> {
    const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    if (this.instance) label.push(`${LABEL.instance}=${this.instance}`);
    const list = await this.docker.listNetworks({ filters: { label } });
    for (const n of list) {
      await this.docker
        .getNetwork(n.Id)
        .remove()
        .catch((err: unknown) => {
          // A swarm's overlay just removed may still be listed, and its removal then answers "not found"
          // with a 500: gone either way.
          if ((err as { statusCode?: number }).statusCode !== 404 && !/not found/i.test(messageOf(err))) throw err;
        });
    }
    return list.length;
  }

  /**
   * The network of that name; should two workers have made it at once, the older, which every worker
   * picks alike (the other goes with the app).
   */
  private async oldest(name: string): Promise<Docker.NetworkInspectInfo | null> {
    const list = (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
    return list.sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created) || a.Id.localeCompare(b.Id))[0] ?? null;
  }

  private async subnetsInUse(): Promise<string[]> {
    const list = await this.docker.listNetworks();
    return list.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')).filter((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s));
  }
}

/** The first /24 of `pool` that overlaps none of `taken` (IPv4 CIDRs), or null. */
export function freeSubnet(pool: string, taken: string[]): string | null {
  const [base, bits] = cidr(pool);
  const used = taken.map(cidr);
  const count = 2 ** (24 - Math.min(bits, 24));
  for (let i = 0; i < count; i++) {
    const candidate = (base + i * 256) >>> 0;
    if (!used.some(([b, p]) => overlaps(candidate, 24, b, p))) return `${ip(candidate)}/24`;
  }
  return null;
}

function cidr(value: string): [number, number] {
  const [addr, bits] = value.split('/');
  const n = addr!.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
  const prefix = Number(bits);
  return [(n & mask(prefix)) >>> 0, prefix];
}

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

function overlaps(a: number, ap: number, b: number, bp: number): boolean {
  const p = Math.min(ap, bp);
  return ((a & mask(p)) >>> 0) === ((b & mask(p)) >>> 0);
}

const ip = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

function messageOf(err: unknown): string {
  return (err as { json?: { message?: string } }).json?.message ?? (err as Error).message ?? String(err);
}
