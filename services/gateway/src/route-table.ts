/**
 * Where each app's traffic goes, and which app each custom domain names. Loaded from the app records at
 * start and kept current by route announcements and domain changes on Redis pub/sub (never by polling
 * Docker); a slow full reload every 30 s repairs anything a lost message would leave stale.
 */
import type { Redis } from 'ioredis';
import { readDomains, readHttpsRedirects } from '@slipway/records/domains';
import { keys } from '@slipway/records/redis';
import { ADDRESS, NODE, parseRouteUpdate, type RouteUpdate } from '@slipway/records/route-announcements';

/** One container of the app's version. */
export interface Upstream {
  /** The published port: the key in-flight requests and drains are counted by, and the way in without `address`. */
  port: number;
  /** The container's `ip:port` on its app network (one proxy hop less than the published port). */
  address?: string | undefined;
  /** Under Swarm: the address of the node whose `port` this is (unset: SLIPWAY_BIND on this machine). */
  node?: string | undefined;
}

export interface Route {
  version: string;
  /** Every container of the version (`instances`), one at least. */
  upstreams: Upstream[];
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly known = new Set<string>();
  /** Custom domains (issue 16): host name → app. */
  private domains = new Map<string, string>();
  /** Apps whose plain-HTTP requests are redirected to HTTPS. */
  private redirects = new Set<string>();
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly redis: Redis) {}

  get(app: string): Route | undefined {
    return this.routes.get(app);
  }

  /** Every app's route. */
  all(): IterableIterator<Route> {
    return this.routes.values();
  }

  /** Registered apps, with or without a running version (for "not running" vs "unknown"). */
  has(app: string): boolean {
    return this.known.has(app);
  }

  /** The app a custom domain belongs to. */
  appForDomain(host: string): string | undefined {
    return this.domains.get(host);
  }

  redirectsToHttps(app: string): boolean {
    return this.redirects.has(app);
  }

  /** Every host name an app answers on: `<app>.<domain>` for each registered app, and the custom domains. */
  hostNames(domain: string): string[] {
    return [...[...this.known].map((app) => `${app}.${domain.toLowerCase()}`), ...this.domains.keys()];
  }

  /** `listener` runs after every change of apps, routes or domains (the certificates follow the names). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async reloadDomains(): Promise<void> {
    await this.readDomains();
    this.changed();
  }

  private async readDomains(): Promise<void> {
    [this.domains, this.redirects] = await Promise.all([readDomains(this.redis), readHttpsRedirects(this.redis)]);
  }

  /** Everything again from the records; the listeners hear of it once. */
  async reload(): Promise<void> {
    await this.readDomains();
    const apps = await this.redis.smembers(keys.apps);
    const pipe = this.redis.pipeline();
    for (const app of apps) pipe.hmget(keys.app(app), 'current', 'port', 'status', 'address', 'replicas');
    const results = (await pipe.exec()) ?? [];
    this.known.clear();
    const next = new Map<string, Route>();
    apps.forEach((app, i) => {
      this.known.add(app);
      const [current, port, status, address, replicas] = (results[i]?.[1] ?? []) as Array<string | null | undefined>;
      if (!current || !port || status === 'stopped') return;
      const upstreams = upstreamsOf(replicas) ?? [{ port: Number(port), address: address ?? undefined }];
      next.set(app, { version: current, upstreams: upstreams.map((u) => ({ port: u.port, address: u.address && ADDRESS.test(u.address) ? u.address : undefined, node: u.node && NODE.test(u.node) ? u.node : undefined })) });
    });
    this.routes.clear();
    for (const [app, route] of next) this.routes.set(app, route);
    this.changed();
  }

  apply(update: RouteUpdate): void {
    if (update.deleted) this.known.delete(update.app);
    else this.known.add(update.app);
    if (update.version && update.port) {
      const upstreams = update.upstreams?.length ? update.upstreams : [{ port: update.port, address: update.address ?? null }];
      this.routes.set(update.app, { version: update.version, upstreams: upstreams.map((u) => ({ port: u.port, address: u.address ?? undefined, node: u.node ?? undefined })) });
    } else this.routes.delete(update.app);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** The address could not be connected to: the published port until the next announcement or reload. */
  forgetAddress(app: string, address: string): void {
    const route = this.routes.get(app);
    if (!route?.upstreams.some((u) => u.address === address)) return;
    this.routes.set(app, { ...route, upstreams: route.upstreams.map((u) => (u.address === address ? { port: u.port } : u)) });
  }

  /** Subscribes on a connection of its own; `onUpdate` runs after each change is applied. */
  async follow(subscriber: Redis, onUpdate: (update: RouteUpdate) => void): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.domainsChannel) return void this.reloadDomains().catch(() => {
        // The 30 s full reload tries again.
      });
      if (channel !== keys.routesChannel) return;
      const update = parseRouteUpdate(message);
      if (!update) return;
      this.apply(update);
      onUpdate(update);
    });
    await subscriber.subscribe(keys.routesChannel, keys.domainsChannel);
    // Back after Redis was away: what was announced meanwhile never arrived (a switch finished while the
    // subscriber reconnected, its old container about to stop). Read everything again once ioredis has
    // resubscribed (it does so just after 'ready'), rather than serve a stopped upstream until the 30 s reload.
    subscriber.on('ready', () => {
      setTimeout(() => {
        this.reload().catch(() => {
          // The 30 s full reload tries again.
        });
      }, 250);
    });
  }
}

/** The record's `replicas` field (JSON, written by the worker), as upstreams. */
function upstreamsOf(text: string | null | undefined): Upstream[] | null {
  if (!text) return null;
  try {
    const list = JSON.parse(text) as Array<{ port?: unknown; address?: unknown; node?: unknown }>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const upstreams = list.flatMap((r) => (typeof r.port === 'number' ? [{ port: r.port, address: str(r.address), node: str(r.node) }] : []));
    return upstreams.length ? upstreams : null;
  } catch {
    return null;
  }
}
