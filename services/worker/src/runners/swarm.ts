/**
 * Swarm mode (SLIPWAY_ORCHESTRATOR=swarm): each app is a service `slipway_<app>` updated start-first with
 * automatic rollback on failure, a health check from the app's settings, its port published through the
 * ingress (or, with SLIPWAY_SWARM_PUBLISH_MODE=host, on the node, a new port per version so the new task
 * can start beside the old one). A deploy is a service update to the new tag, a rollback an update to a
 * kept tag. Task containers carry Slipway's labels, so logs and stats are collected like any container's.
 */
import getPort from 'get-port';
import type { AppSettings } from '@slipway/contracts/settings';
import { volumeName } from '@slipway/contracts/volumes';
import { replicasOf, type AppRecord, type Replica } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import type { ContainerInfo, ServiceInfo } from '../docker/engine';
import { LABEL, labelsFor } from '../docker/labels';
import { PipelineError } from '../errors';
import type { Reporter } from '../pipeline/reporter';
import type { BuiltImage } from '../stages/build';
import { removeContainers } from '../stages/cleanup';
import { probeHost, waitAnswering } from '../stages/health';
import { recordAdopted, recordSwitch, type Live } from '../stages/switch';
import type { ReconcileReport, Runner, Target } from './runner';

export const serviceName = (app: string) => `slipway_${app}`;

/**
 * The health check runs inside the task: node (or busybox wget) asks the app's own health path, which is
 * passed in the environment rather than written into the command.
 */
const HEALTH_CMD =
  'node -e "require(\'http\').get({host:\'127.0.0.1\',port:process.env.PORT,path:process.env.SLIPWAY_HEALTH_PATH},r=>process.exit(r.statusCode<500?0:1)).on(\'error\',()=>process.exit(1))" 2>/dev/null || wget -q -O /dev/null "http://127.0.0.1:$PORT$SLIPWAY_HEALTH_PATH"';
const SECOND = 1_000_000_000;

/** The tag the service runs: the local one, or its copy in SLIPWAY_REGISTRY for the other nodes to pull. */
export function swarmImage(ctx: Pick<WorkerContext, 'settings'>, local: string): string {
  return ctx.settings.registry ? `${ctx.settings.registry}/${local}` : local;
}

export class SwarmRunner implements Runner {
  constructor(private readonly ctx: WorkerContext) {}

  /** Other nodes pull the image from SLIPWAY_REGISTRY (one node needs none). */
  async publish(image: BuiltImage, _target: Target, report: Reporter): Promise<void> {
    if (!this.ctx.settings.registry) return;
    const remote = swarmImage(this.ctx, image.image);
    report.log(`Pushing ${remote}`);
    await this.ctx.engine.images.push(image.image, remote);
  }

  /** start → health → switch, as a service update. */
  async run(image: BuiltImage, target: Target, report: Reporter): Promise<Live> {
    const { ctx } = this;
    const { settings, engine, store } = ctx;
    const name = serviceName(target.app);
    await report.enter('start');
    const [appSettings, existing, before] = await Promise.all([store.getSettings(target.app), engine.swarm.get(name), store.getAppRecord(target.app)]);
    const containerPort = appSettings.port ?? 3000;
    // Host publishing: a port of its own per version, or start-first could not run both tasks on one node.
    const hostPort =
      settings.swarmPublishMode === 'host' || !existing?.publishedPort
        ? await getPort({ exclude: existing?.publishedPort ? [existing.publishedPort] : [] })
        : existing.publishedPort;
    const spec = serviceSpec(ctx, target, swarmImage(ctx, image.image), appSettings, containerPort, hostPort);
    await engine.swarm.upsert(spec, existing);
    report.log(`${existing ? 'Updated' : 'Created'} service ${name} to ${swarmImage(ctx, image.image)} (published port ${hostPort}, ${settings.swarmPublishMode})`);
    // Swarm's published ports have no host address (PortConfig has none, in any API version).
    if (settings.bind !== '0.0.0.0') report.log(`Port ${hostPort} is published on every address of ${settings.swarmPublishMode === 'host' ? "the task's node" : 'every node'}: SLIPWAY_BIND does not apply in swarm mode (docs/swarm.md)`);

    await report.enter('health');
    const task = await converge(ctx, name, target, (fraction) => void report.within(fraction));
    const answer = await waitAnswering(probeHost(settings.bind), hostPort, appSettings.healthPath, settings.healthTimeoutMs);
    if (!answer.ok) {
      throw new PipelineError('unhealthy', `The service's task is running but GET ${appSettings.healthPath} on port ${hostPort} answered ${answer.last}`);
    }
    report.log(`Healthy: task ${task.id.slice(0, 12)} answers GET ${appSettings.healthPath} with ${answer.status}`);

    await report.enter('switch');
    const { live } = await recordSwitch(ctx, before, { app: target.app, version: target.version, replicas: [{ containerId: task.containerId, port: hostPort }] }, settings.stopGraceS);
    return live;
  }

  /** Stop = 0 replicas (the service stays). */
  async stop(app: string): Promise<void> {
    await scaleService(this.ctx, app, 0);
  }

  async resume(app: string, record: AppRecord): Promise<{ replicas: Replica[] }> {
    const { instances } = await this.ctx.store.getSettings(app);
    await scaleService(this.ctx, app, instances);
    const { healthPath } = await this.ctx.store.getSettings(app);
    const answer = await waitAnswering(probeHost(this.ctx.settings.bind), record.port!, healthPath, this.ctx.settings.healthTimeoutMs);
    if (!answer.ok) throw new PipelineError('unhealthy', `${app} did not answer GET ${healthPath} after starting`);
    // The service's published port is the way in, whichever tasks answer on it.
    return { replicas: replicasOf(record).map((r) => ({ ...r, address: undefined })) };
  }

  /** The service goes, then any task container it left. */
  async remove(app: string): Promise<void> {
    const service = await this.ctx.engine.swarm.get(serviceName(app));
    if (service) await this.ctx.engine.swarm.remove(service.id);
    await removeContainers(this.ctx, app);
  }

  async clearInterrupted(): Promise<void> {
    // Swarm owns its tasks' containers: it replaces or rolls them back itself.
  }

  /** Any task of the current version, whichever node this worker is on. */
  isCurrent(container: ContainerInfo, record: AppRecord): boolean {
    return container.labels[LABEL.version] === record.current;
  }

  /** Records from the services that really exist (Redis lost, or another worker did the work). */
  async reconcile(_active: ReadonlySet<string>, report: ReconcileReport): Promise<void> {
    const { ctx } = this;
    for (const service of await ctx.engine.swarm.list()) {
      const app = service.labels[LABEL.app];
      const version = service.labels[LABEL.version];
      if (!app || !version || !service.publishedPort) continue;
      const record = await ctx.store.getAppRecord(app);
      if (record.current === version && record.port === service.publishedPort) continue;
      const status = service.replicas ? 'running' : 'stopped';
      await recordAdopted(ctx, app, record, { version, image: service.image, deployId: service.labels[LABEL.deploy] ?? '', port: service.publishedPort, address: null, status });
      report.adoptedApps.push(app);
    }
  }
}

export function serviceSpec(ctx: Pick<WorkerContext, 'settings'>, target: Target, image: string, app: AppSettings, containerPort: number, hostPort: number): Record<string, unknown> {
  const labels = labelsFor(target.app, target.version, target.deployId, ctx.settings.instance);
  const host = ctx.settings.swarmPublishMode === 'host';
  return {
    Name: serviceName(target.app),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
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
        // Named volumes are local to the node a task runs on (docs/swarm.md); the engine makes them there.
        Mounts: app.volumes.map(({ path }) => ({ Type: 'volume', Source: volumeName(target.app, path), Target: path, VolumeOptions: { Labels: { [LABEL.managed]: 'true', [LABEL.instance]: ctx.settings.instance, [LABEL.app]: target.app } } })),
      },
      Resources: { Limits: { NanoCPUs: Math.round(app.cpus * 1e9), MemoryBytes: app.memoryMb * 1024 * 1024, Pids: 256 } },
      RestartPolicy: { Condition: 'any', Delay: SECOND, MaxAttempts: 0 },
    },
    // In host mode every task takes the same port: one per node, so more instances than nodes cannot all run (docs/swarm.md).
    Mode: { Replicated: { Replicas: app.instances } },
    // stop-first: the single writer of its volumes stops before its successor starts.
    UpdateConfig: { Parallelism: 1, Order: app.switch === 'stop-first' ? 'stop-first' : 'start-first', FailureAction: 'rollback', Monitor: 5 * SECOND, MaxFailureRatio: 0 },
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
    const [service, tasks] = await Promise.all([ctx.engine.swarm.get(name), ctx.engine.swarm.tasks(name)]);
    if (service?.updateState?.startsWith('rollback')) {
      throw await failed(ctx, tasks, target, `Swarm rolled the update back: ${service.updateMessage || lastError || 'the new task failed'}`);
    }
    const mine = tasks.filter((t) => t.deployId === target.deployId);
    const running = mine.find((t) => t.desired === 'running' && t.state === 'running' && t.containerId);
    if (running && (await ctx.engine.containers.health(running.containerId)) === 'healthy') return running;
    const broken = mine.filter((t) => ['failed', 'rejected'].includes(t.state));
    if (broken.length) lastError = broken[0]!.error;
    if (broken.length >= 3 && !service?.updateState) {
      failures = broken.length;
      throw await failed(ctx, tasks, target, `The service's task failed ${failures} times: ${lastError || 'it exited'}`);
    }
    onProgress((Date.now() - began) / timeout);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw await failed(ctx, await ctx.engine.swarm.tasks(name), target, `The service's task did not become healthy within ${Math.round(timeout / 1000)} s${lastError ? ` (${lastError})` : ''}`);
}

async function failed(ctx: WorkerContext, tasks: Awaited<ReturnType<WorkerContext['engine']['swarm']['tasks']>>, target: Target, message: string): Promise<PipelineError> {
  const task = tasks.filter((t) => t.deployId === target.deployId && t.containerId).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  const logs = task ? await ctx.engine.streams.tailLogs(task.containerId, 50) : [];
  return new PipelineError('unhealthy', message, false, logs);
}

async function scaleService(ctx: WorkerContext, app: string, replicas: number): Promise<ServiceInfo> {
  const service = await ctx.engine.swarm.get(serviceName(app));
  if (!service) throw new PipelineError('not_running', `${app} has no service to ${replicas ? 'start' : 'stop'}`);
  const spec = service.spec as { Mode?: { Replicated?: { Replicas?: number } } };
  await ctx.engine.swarm.upsert({ ...service.spec, Mode: { ...spec.Mode, Replicated: { Replicas: replicas } } }, service);
  return service;
}
