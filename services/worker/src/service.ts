/** The worker: the only part of Slipway that talks to Docker. */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { QUEUE_NAME, type DeployJob } from '@slipway/contracts/job';
import { dataPaths, type Settings } from '@slipway/runtime/config';
import { createLogger } from '@slipway/runtime/logger';
import { LogWriter } from './observe/log-writer';
import { createDeployQueue } from '@slipway/records/queue';
import { createRedis, waitReady } from '@slipway/records/redis';
import { announceReady, type Service } from '@slipway/runtime/service';
import { Store } from '@slipway/records/store';
import type { WorkerContext } from './context';
import { DOCKER_MISSING_HELP } from './docker/help';
import { Engine } from './docker/engine';
import { startHeartbeat } from './upkeep/heartbeat';
import { LogCollector } from './observe/collector';
import { Sampler } from './observe/sampler';
import { createProcessor } from './pipeline/processor';
import { reconcile } from './upkeep/reconcile';
import { followSwarm } from './upkeep/swarm-follow';
import { SwarmRunner } from './runners/swarm';
import { measureVolumes, MEASURE_EVERY_MS } from './upkeep/volume-sizes';
import { Watcher } from './after-switch/watch';
import { Webhooks } from './after-switch/webhooks';

const RECONCILE_EVERY_MS = 30_000;

export async function startWorker(settings: Readonly<Settings> & { redisUrl: string }): Promise<Service> {
  const { redisUrl } = settings;
  const log = await createLogger('worker', settings.logLevel, settings.dataDir);

  const engine = new Engine(settings.dockerHost, settings.instance);
  if (!(await engine.ping(5000))) {
    log.fatal(DOCKER_MISSING_HELP);
    throw new Error(DOCKER_MISSING_HELP);
  }
  await mkdir(dataPaths(settings.dataDir).cluster, { recursive: true });

  // Worker-side Redis retries forever: a Redis restart pauses deploys, it does not fail them.
  const redis = createRedis(redisUrl, 'blocking', 'slipway-worker');
  await waitReady(redis, 30_000);
  const queue = createDeployQueue(createRedis(redisUrl, 'blocking', 'slipway-worker-queue'));
  const logs = new LogWriter(settings.dataDir, `${hostname()}-${process.pid}`);
  const ctx: WorkerContext = { settings, redis, store: new Store(redis), engine, queue, logs, log };
  const watcher = new Watcher(ctx);
  const webhooks = new Webhooks(ctx, createRedis(redisUrl, 'blocking', 'slipway-webhooks-queue'));

  await reconcile(ctx, queue);
  await watcher.resume();
  const collector = new LogCollector(ctx, logs);
  await collector.start();
  const sampler = new Sampler(ctx);
  sampler.start();
  const retention = setInterval(() => {
    logs.enforceRetention(settings.logRetentionBytes, settings.logRetentionDays).catch((err: Error) => log.warn({ err: err.message }, 'log retention failed'));
  }, 60_000);
  const reconciling = setInterval(() => {
    reconcile(ctx, queue).catch((err: Error) => log.warn({ err: err.message }, 'reconcile failed'));
  }, RECONCILE_EVERY_MS);
  const measure = () => void measureVolumes(ctx).catch((err: Error) => log.warn({ err: err.message }, 'could not measure volumes'));
  measure();
  const measuring = setInterval(measure, MEASURE_EVERY_MS);
  const unfollow = settings.orchestrator === 'swarm' ? followSwarm(ctx, new SwarmRunner(ctx)) : () => {};

  const worker = new Worker<DeployJob>(QUEUE_NAME, createProcessor(ctx, { watcher, webhooks, sampler }), {
    connection: createRedis(redisUrl, 'blocking', 'slipway-worker-bull'),
    concurrency: settings.concurrency,
    // A crashed worker's job is picked up again within ~30 s and retried once at most (then failed).
    lockDuration: 20_000,
    stalledInterval: 10_000,
    maxStalledCount: 1,
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker connection error'));
  webhooks.start(createRedis(redisUrl, 'blocking', 'slipway-webhooks'));
  const heartbeat = await startHeartbeat(ctx);
  log.info({ concurrency: settings.concurrency, heartbeat: heartbeat.id }, 'worker ready');
  announceReady('worker');

  return {
    name: 'worker',
    async stop() {
      log.info('worker stopping');
      clearInterval(reconciling);
      clearInterval(measuring);
      unfollow();
      clearInterval(retention);
      sampler.stop();
      // An unfinished deploy is picked up again by the next worker (BullMQ's stalled-job check).
      await Promise.race([worker.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await heartbeat.stop();
      await collector.stop();
      await logs.close();
      await Promise.allSettled([webhooks.close(), queue.close(), redis.quit()]);
    },
  };
}
