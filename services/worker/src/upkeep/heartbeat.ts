/**
 * Tells the API (which has no Docker access) that this worker lives, whether the engine answers, and
 * what the engine is (for `GET /api/system`).
 */
import { hostname } from 'node:os';
import { keys } from '@slipway/records/redis';
import type { WorkerContext } from '../context';

const EVERY_MS = 5_000;
const INFO_EVERY = 6; // beats

export const DOCKER_INFO_KEY = 'slipway:docker:info';

/** Resolves after the first beat, so a worker that says it is ready is already visible to /healthz. */
export async function startHeartbeat(ctx: WorkerContext): Promise<{ id: string; stop: () => Promise<void> }> {
  const id = `${hostname()}:${process.pid}`;
  let beats = 0;
  const beat = async () => {
    const docker = await ctx.engine.ping();
    // Redis down: the missing beat is the message (/healthz reports no worker); logging it every 5 s adds nothing.
    await ctx.redis.hset(keys.workers, id, JSON.stringify({ ts: Date.now(), docker })).catch(() => {});
    if (docker && beats++ % INFO_EVERY === 0) await reportEngine(ctx).catch((err: Error) => ctx.log.debug({ err: err.message }, 'could not report the engine facts'));
  };
  await beat();
  const timer = setInterval(() => void beat(), EVERY_MS);
  return {
    id,
    async stop() {
      clearInterval(timer);
      // At shutdown with Redis gone: the beat expires from /healthz's view by its age.
      await ctx.redis.hdel(keys.workers, id).catch(() => {});
    },
  };
}

async function reportEngine(ctx: WorkerContext): Promise<void> {
  const [info, version] = await Promise.all([ctx.engine.info(), ctx.engine.version()]);
  const pick = (k: string) => info[k];
  const summary = {
    version: version.version,
    apiVersion: version.apiVersion,
    os: pick('OperatingSystem'),
    kernel: pick('KernelVersion'),
    storageDriver: pick('Driver'),
    dockerRootDir: pick('DockerRootDir'),
    containers: pick('Containers'),
    containersRunning: pick('ContainersRunning'),
    images: pick('Images'),
    cpus: pick('NCPU'),
    memoryBytes: pick('MemTotal'),
    swarm: (pick('Swarm') as { LocalNodeState?: string } | undefined)?.LocalNodeState ?? 'inactive',
    reportedAt: new Date().toISOString(),
  };
  await ctx.redis.set(DOCKER_INFO_KEY, JSON.stringify(summary), 'EX', 300);
}
