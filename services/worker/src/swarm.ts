/**
 * Swarm mode (SLIPWAY_ORCHESTRATOR=swarm): each app is a service `slipway_<app>` updated start-first with
 * automatic rollback on failure, a health check from the app's settings, its port published through the
 * ingress (or, with SLIPWAY_SWARM_PUBLISH_MODE=host, on the node, a new port per version so the new task
 * can start beside the old one). A deploy is a service update to the new tag, a rollback an update to a
 * kept tag. Task containers carry Slipway's labels, so logs and stats are collected like any container's.
 */
import getPort from 'get-port';
import type { AppSettings } from '@slipway/contracts/settings';
import { announceRoute } from '@slipway/core/routes';
import type { WorkerContext } from './context';
import { LABEL, labelsFor } from './docker/labels';
import type { ServiceInfo } from './docker/engine';
import { PipelineError } from './errors';
import type { Reporter } from './reporter';
import { probe, probeHost } from './stages/health';
import type { Live } from './stages/switch';
import { imageName } from '@slipway/contracts/names';

export const serviceName = (app: string) => `slipway_${app}`;

/**
 * The health check runs inside the task: node (or busybox wget) asks the app's own health path, which is
 * passed in the environment rather than written into the command.
 */
const HEALTH_CMD =
  'node -e "require(\'http\').get({host:\'127.0.0.1\',port:process.env.PORT,path:process.env.SLIPWAY_HEALTH_PATH},r=>process.exit(r.statusCode<500?0:1)).on(\'error\',()=>process.exit(1))" 2>/dev/null || wget -q -O /dev/null "http://127.0.0.1:$PORT$SLIPWAY_HEALTH_PATH"';
const SECOND = 1_000_000_000;

interface Target {
  app: string;
  version: string;
  deployId: string;
}

export function swarmImage(ctx: Pick<WorkerContext, 'settings'>, target: { app: string; version: string }): string {
  const local = imageName(ctx.settings.imagePrefix, target.app, target.version);
  return ctx.settings.registry ? `${ctx.settings.registry}/${local}` : local;
}

/** After a build: other nodes pull the image from SLIPWAY_REGISTRY (one node needs none). */
export async function publishImage(ctx: WorkerContext, target: Target, report: Reporter): Promise<void> {
  if (!ctx.settings.registry) return;
  const image = swarmImage(ctx, target);
  report.log(`Pushing ${image}`);
  await ctx.engine.push(imageName(ctx.settings.imagePrefix, target.app, target.version), image);
}

/** start → health → switch, as a service update. */
export async function runOnSwarm(ctx: WorkerContext, target: Target, report: Reporter): Promise<Live> {
  const { settings, engine, store } = ctx;
  const name = serviceName(target.app);
  await report.enter('start');
  const [appSettings, existing, before] = await Promise.all([store.getSettings(target.app), engine.service(name), store.getAppRecord(target.app)]);
  const containerPort = appSettings.port ?? 3000;
  // Host publishing: a port of its own per version, or start-first could not run both tasks on one node.
  const hostPort =
    settings.swarmPublishMode === 'host' || !existing?.publishedPort
      ? await getPort({ exclude: existing?.publishedPort ? [existing.publishedPort] : [] })
      : existing.publishedPort;
  const spec = serviceSpec(ctx, target, appSettings, containerPort, hostPort);
  await engine.upsertService(spec, existing);
  report.log(`${existing ? 'Updated' : 'Created'} service ${name} to ${swarmImage(ctx, target)} (published port ${hostPort}, ${settings.swarmPublishMode})`);
  // Swarm's published ports have no host address (PortConfig has none, in any API version).
  if (settings.bind !== '0.0.0.0') report.log(`Port ${hostPort} is published on every address of ${settings.swarmPublishMode === 'host' ? "the task's node" : 'every node'}: SLIPWAY_BIND does not apply in swarm mode (docs/swarm.md)`);

  await report.enter('health');
  const task = await converge(ctx, name, target, (fraction) => void report.within(fraction).catch(() => {}));
  const deadline = Date.now() + settings.healthTimeoutMs;
  let status: number | string = 'no answer';
  while (Date.now() < deadline) {
    status = await probe(probeHost(settings.bind), hostPort, appSettings.healthPath, 2000);
    if (typeof status === 'number' && status < 500) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (typeof status !== 'number' || status >= 500) {
    throw new PipelineError('unhealthy', `The service's task is running but GET ${appSettings.healthPath} on port ${hostPort} answered ${status}`);
  }
  report.log(`Healthy: task ${task.id.slice(0, 12)} answers GET ${appSettings.healthPath} with ${status}`);

  await report.enter('switch');
  const startedAt = new Date().toISOString();
  const replaced = before.current && before.current !== target.version ? before.current : null;
  await store.setAppRecord(target.app, { current: target.version, previous: replaced ?? before.previous, port: hostPort, address: undefined, containerId: task.containerId, startedAt, status: 'running' });
  const version = await store.getVersion(target.app, target.version);
  if (version) await store.putVersion(target.app, { ...version, state: 'ok', deployedAt: startedAt });
  await announceRoute(ctx.redis, { app: target.app, version: target.version, port: hostPort, previousPort: before.port && before.port !== hostPort ? before.port : null }, settings.stopGraceS * 1000);
  return { app: target.app, version: target.version, containerId: task.containerId, port: hostPort, startedAt, replaced };
}

export function serviceSpec(ctx: Pick<WorkerContext, 'settings'>, target: Target, app: AppSettings, containerPort: number, hostPort: number): Record<string, unknown> {
  const labels = labelsFor(target.app, target.version, target.deployId, ctx.settings.instance);
  const host = ctx.settings.swarmPublishMode === 'host';
  return {
    Name: serviceName(target.app),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: swarmImage(ctx, target),
        Labels: labels,
        Env: [...Object.entries(app.env).map(([k, v]) => `${k}=${v}`), `PORT=${containerPort}`, `SLIPWAY_HEALTH_PATH=${app.healthPath}`],
        Init: true,
        StopGracePeriod: ctx.settings.stopGraceS * SECOND,
        CapabilityDrop: ['ALL'],
        CapabilityAdd: ['CAP_NET_BIND_SERVICE'],
        // Engines from API 1.44 (Docker 25) apply it; older ones drop the field without a word, and only the
        // daemon's own `no-new-privileges` option covers their tasks (docs/swarm.md).
        Privileges: { NoNewPrivileges: true },
        Healthcheck: { Test: ['CMD-SHELL', HEALTH_CMD], Interval: 2 * SECOND, Timeout: 2 * SECOND, Retries: 3, StartPeriod: 3 * SECOND },
      },
      Resources: { Limits: { NanoCPUs: Math.round(app.cpus * 1e9), MemoryBytes: app.memoryMb * 1024 * 1024, Pids: 256 } },
      RestartPolicy: { Condition: 'any', Delay: SECOND, MaxAttempts: 0 },
    },
    Mode: { Replicated: { Replicas: 1 } },
    UpdateConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'rollback', Monitor: 5 * SECOND, MaxFailureRatio: 0 },
    RollbackConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'pause', Monitor: 5 * SECOND },
    EndpointSpec: host
      ? { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: containerPort, PublishedPort: hostPort, PublishMode: 'host' }] }
      : { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: containerPort, PublishedPort: hostPort, PublishMode: 'ingress' }] },
  };
}

/**
 * Waits for this deploy's task to run healthy. Swarm rolls a failed update back by itself: that, a task
 * that keeps failing, or the health timeout ends the deploy with the reason and the task's last lines.
 */
async function converge(ctx: WorkerContext, name: string, target: Target, onProgress: (f: number) => void) {
  const began = Date.now();
  const timeout = ctx.settings.healthTimeoutMs + 10_000;
  let failures = 0;
  let lastError = '';
  while (Date.now() - began < timeout) {
    const [service, tasks] = await Promise.all([ctx.engine.service(name), ctx.engine.tasks(name)]);
    if (service?.updateState?.startsWith('rollback')) {
      throw await failed(ctx, tasks, target, `Swarm rolled the update back: ${service.updateMessage || lastError || 'the new task failed'}`);
    }
    const mine = tasks.filter((t) => t.deployId === target.deployId);
    const running = mine.find((t) => t.desired === 'running' && t.state === 'running' && t.containerId);
    if (running && (await ctx.engine.health(running.containerId)) === 'healthy') return running;
    const broken = mine.filter((t) => ['failed', 'rejected'].includes(t.state));
    if (broken.length) lastError = broken[0]!.error;
    if (broken.length >= 3 && !service?.updateState) {
      failures = broken.length;
      throw await failed(ctx, tasks, target, `The service's task failed ${failures} times: ${lastError || 'it exited'}`);
    }
    onProgress((Date.now() - began) / timeout);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw await failed(ctx, await ctx.engine.tasks(name), target, `The service's task did not become healthy within ${Math.round(timeout / 1000)} s${lastError ? ` (${lastError})` : ''}`);
}

async function failed(ctx: WorkerContext, tasks: Awaited<ReturnType<WorkerContext['engine']['tasks']>>, target: Target, message: string): Promise<PipelineError> {
  const task = tasks.filter((t) => t.deployId === target.deployId && t.containerId).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  const logs = task ? await ctx.engine.tailLogs(task.containerId, 50) : [];
  return new PipelineError('unhealthy', message, false, logs);
}

/** Stop = 0 replicas (the service stays), start = 1, delete = the service goes. */
export async function scaleService(ctx: WorkerContext, app: string, replicas: number): Promise<ServiceInfo> {
  const service = await ctx.engine.service(serviceName(app));
  if (!service) throw new PipelineError('not_running', `${app} has no service to ${replicas ? 'start' : 'stop'}`);
  const spec = service.spec as { Mode?: { Replicated?: { Replicas?: number } } };
  await ctx.engine.upsertService({ ...service.spec, Mode: { ...spec.Mode, Replicated: { Replicas: replicas } } }, service);
  return service;
}

export async function removeService(ctx: WorkerContext, app: string): Promise<void> {
  const service = await ctx.engine.service(serviceName(app));
  if (service) await ctx.engine.removeService(service.id);
}

/** Records from the services that really exist (Redis lost, or another worker did the work). */
export async function reconcileSwarm(ctx: WorkerContext): Promise<string[]> {
  const adopted: string[] = [];
  for (const service of await ctx.engine.services()) {
    const app = service.labels[LABEL.app];
    const version = service.labels[LABEL.version];
    if (!app || !version || !service.publishedPort) continue;
    const record = await ctx.store.getAppRecord(app);
    if (record.current === version && record.port === service.publishedPort) continue;
    await ctx.store.setAppRecord(app, { ...record, current: version, port: service.publishedPort, address: undefined, status: service.replicas ? 'running' : 'stopped', startedAt: record.startedAt ?? new Date().toISOString() });
    const known = await ctx.store.getVersion(app, version);
    if (!known || known.state !== 'ok') {
      await ctx.store.putVersion(app, { version, image: service.image, deployId: service.labels[LABEL.deploy] ?? '', state: 'ok', createdAt: known?.createdAt ?? new Date().toISOString() });
    }
    adopted.push(app);
  }
  return adopted;
}
