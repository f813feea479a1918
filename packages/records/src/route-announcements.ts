/**
 * How an app's traffic moves from one container to the next without dropping a request. The worker writes
 * the app record, then announces the switch; every gateway points new requests at the new upstream, waits
 * until the requests still running on the old one have finished, and acknowledges. Only then does the
 * worker stop the old container. Gateways that are gone (no heartbeat) are not waited for.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from './redis';
import { replicasOf, type AppRecord, type Replica } from './store';

/** One container the gateways may send the app's requests to. */
export interface Upstream {
  port: number;
  address: string | null;
  /** Under Swarm: the node's address, where `port` is published (Replica.node). */
  node?: string | null;
}

export interface RouteUpdate {
  app: string;
  /** null: the app has no running version (stopped or deleted). */
  version: string | null;
  port: number | null;
  /** The container's `ip:port` on its app network, when it has one (AppRecord.address). */
  address?: string | null;
  /** Every container of the version when it runs several (`instances`); `port`/`address` are the first. */
  upstreams?: Upstream[];
  /** The upstream the app is leaving: gateways drain it before acknowledging. */
  previousPort: number | null;
  /** All the upstreams it is leaving, when there were several. */
  previousPorts?: number[];
  /** The app is gone altogether (its host answers 404, not 503). */
  deleted?: boolean;
  nonce: string;
}

export const GATEWAY_FRESH_MS = 15_000;

/** An IPv4 `ip:port`: the app networks are IPv4 bridges carved from SLIPWAY_NETWORK_POOL. */
export const ADDRESS = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;
/** A swarm node's address, as the engine reports it (IPv4). */
export const NODE = /^\d{1,3}(\.\d{1,3}){3}$/;

export async function liveGateways(redis: Redis): Promise<string[]> {
  const beats = await redis.hgetall(keys.gateways);
  return Object.entries(beats)
    .filter(([, ts]) => Date.now() - Number(ts) < GATEWAY_FRESH_MS)
    .map(([id]) => id);
}

/**
 * Announces a route change and waits until every live gateway has drained the previous upstream
 * (or `timeoutMs` passed). Returns how many gateways were waited for and how many answered.
 */
export async function announceRoute(
  redis: Redis,
  update: Omit<RouteUpdate, 'nonce'>,
  timeoutMs: number,
): Promise<{ gateways: number; drained: number }> {
  const nonce = randomBytes(8).toString('hex');
  const gateways = await liveGateways(redis);
  await redis.publish(keys.routesChannel, JSON.stringify({ ...update, nonce }));
  if (!gateways.length) return { gateways: 0, drained: 0 };
  // Each gateway pushes one acknowledgement; a blocking pop on a connection of its own wakes at once.
  const waiter = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  waiter.on('error', () => {});
  const deadline = Date.now() + timeoutMs;
  let drained = 0;
  try {
    while (drained < gateways.length) {
      const left = (deadline - Date.now()) / 1000;
      if (left <= 0) break;
      if (!(await waiter.blpop(keys.drained(nonce), Math.max(left, 0.01)))) break;
      drained++;
    }
  } finally {
    waiter.disconnect();
    await redis.del(keys.drained(nonce));
  }
  return { gateways: gateways.length, drained };
}

export function parseRouteUpdate(message: string): RouteUpdate | null {
  try {
    const raw = JSON.parse(message) as Partial<RouteUpdate>;
    if (typeof raw.app !== 'string' || typeof raw.nonce !== 'string') return null;
    const port = (p: unknown) => (typeof p === 'number' && Number.isInteger(p) ? p : null);
    return {
      app: raw.app,
      version: typeof raw.version === 'string' ? raw.version : null,
      port: port(raw.port),
      address: typeof raw.address === 'string' && ADDRESS.test(raw.address) ? raw.address : null,
      upstreams: Array.isArray(raw.upstreams)
        ? raw.upstreams.flatMap((u) =>
            port(u?.port)
              ? [{ port: u.port, address: typeof u.address === 'string' && ADDRESS.test(u.address) ? u.address : null, node: typeof u.node === 'string' && NODE.test(u.node) ? u.node : null }]
              : [],
          )
        : undefined,
      previousPort: port(raw.previousPort),
      previousPorts: Array.isArray(raw.previousPorts) ? raw.previousPorts.filter((p): p is number => port(p) !== null) : undefined,
      deleted: raw.deleted === true,
      nonce: raw.nonce,
    };
  } catch {
    return null;
  }
}

export async function acknowledgeDrained(redis: Redis, nonce: string, gatewayId: string): Promise<void> {
  await redis.multi().rpush(keys.drained(nonce), gatewayId).expire(keys.drained(nonce), 120).exec();
}

/** The route to a version's containers: the first as `port`/`address` (what older gateways read), all as `upstreams`. */
export function routeTo(version: string, replicas: Replica[]): Pick<RouteUpdate, 'version' | 'port' | 'address' | 'upstreams'> {
  const [first] = replicas;
  return { version, port: first?.port ?? null, address: first?.address ?? null, upstreams: replicas.map((r) => ({ port: r.port, address: r.address ?? null, node: r.node ?? null })) };
}

/** The upstreams an app leaves (to drain): every container of its record, unless it was stopped. */
export function leaving(record: AppRecord): Pick<RouteUpdate, 'previousPort' | 'previousPorts'> {
  if (record.status === 'stopped') return { previousPort: null, previousPorts: [] };
  const ports = replicasOf(record).map((r) => r.port);
  return { previousPort: ports[0] ?? null, previousPorts: ports };
}
