/**
 * Where each app's traffic goes. Loaded from the app records at start and kept current by route
 * announcements on Redis pub/sub (never by polling Docker); a slow full reload every 30 s repairs
 * anything a lost message would leave stale.
 */
import type { Redis } from 'ioredis';
import { keys } from '@slipway/core/redis';
import { parseRouteUpdate, type RouteUpdate } from '@slipway/core/routes';

export interface Route {
  version: string;
  port: number;
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly known = new Set<string>();

  constructor(private readonly redis: Redis) {}

  get(app: string): Route | undefined {
    return this.routes.get(app);
  }

  /** Registered apps, with or without a running version (for "not running" vs "unknown"). */
  has(app: string): boolean {
    return this.known.has(app);
  }

  async reload(): Promise<void> {
    const apps = await this.redis.smembers(keys.apps);
    const pipe = this.redis.pipeline();
    for (const app of apps) pipe.hmget(keys.app(app), 'current', 'port', 'status');
    const results = (await pipe.exec()) ?? [];
    this.known.clear();
    const next = new Map<string, Route>();
    apps.forEach((app, i) => {
      this.known.add(app);
      const [current, port, status] = (results[i]?.[1] ?? []) as Array<string | null>;
      if (current && port && status !== 'stopped') next.set(app, { version: current, port: Number(port) });
    });
    this.routes.clear();
    for (const [app, route] of next) this.routes.set(app, route);
  }

  apply(update: RouteUpdate): void {
    if (update.deleted) this.known.delete(update.app);
    else this.known.add(update.app);
    if (update.version && update.port) this.routes.set(update.app, { version: update.version, port: update.port });
    else this.routes.delete(update.app);
  }

  /** Subscribes on a connection of its own; `onUpdate` runs after each change is applied. */
  async follow(subscriber: Redis, onUpdate: (update: RouteUpdate) => void): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.routesChannel) return;
      const update = parseRouteUpdate(message);
      if (!update) return;
      this.apply(update);
      onUpdate(update);
    });
    await subscriber.subscribe(keys.routesChannel);
  }
}
