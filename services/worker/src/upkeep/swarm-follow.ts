/**
 * Under Swarm, tasks move without Slipway: a node is drained or lost, a task restarts on another node with
 * a new port. Every 2 s the worker looks at the current service of each running app and, when its tasks
 * answer elsewhere now, rewrites the record and tells the gateways; it also keeps the nodes' states for
 * `GET /api/system`.
 */
import { keys } from '@slipway/records/redis';
import { announceRoute, routeTo } from '@slipway/records/route-announcements';
import { replicasOf, type Replica } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import { upstreamsOf, type SwarmRunner } from '../runners/swarm';

const EVERY_MS = 2_000;

export function followSwarm(ctx: WorkerContext, runner: SwarmRunner): () => void {
  let busy = false;
  // Only a manager's engine knows the services, tasks and nodes: the workers on other nodes collect logs and stats.
  let manager: boolean | null = null;
  const timer = setInterval(() => {
    if (busy || manager === false) return;
    busy = true;
    void (async () => {
      manager ??= ((await ctx.engine.info()).Swarm as { ControlAvailable?: boolean } | undefined)?.ControlAvailable === true;
      if (manager) await follow(ctx, runner);
    })()
      .catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not follow the swarm'))
      .finally(() => (busy = false));
  }, EVERY_MS);
  return () => clearInterval(timer);
}

export async function follow(ctx: WorkerContext, runner: SwarmRunner): Promise<void> {
  const nodes = await ctx.engine.swarm.nodes();
  await ctx.redis.set(keys.swarmNodes, JSON.stringify(nodes.map(({ id, hostname, role, availability, state, address }) => ({ id, hostname, role, availability, state, address }))), 'EX', 60);
  for (const app of await ctx.store.listAppNames()) {
    const record = await ctx.store.getAppRecord(app);
    if (!record.current || record.status !== 'running') continue;
    const service = await runner.current(app, record);
    if (!service) continue;
    const replicas = await upstreamsOf(ctx, service.name, undefined, nodes);
    // No task answering anywhere: the gateways keep what they have (a pending task may start any moment).
    if (!replicas.length || same(replicas, replicasOf(record))) continue;
    const now = await ctx.store.getAppRecord(app);
    if (now.current !== record.current || now.status !== 'running') continue;
    const [first] = replicas;
    await ctx.store.setAppRecord(app, { ...now, port: first!.port, containerId: first!.containerId, address: undefined, replicas });
    await announceRoute(ctx.redis, { app, ...routeTo(record.current, replicas), previousPort: null }, 0);
    ctx.log.info({ app, upstreams: replicas.map((r) => `${r.node}:${r.port}`) }, "followed the app's tasks");
  }
}

const where = (list: Replica[]) => list.map((r) => `${r.node ?? ''}:${r.port}`).sort().join(',');
const same = (a: Replica[], b: Replica[]) => where(a) === where(b);
