/**
 * Swarm mode (SLIPWAY_ORCHESTRATOR=swarm): each version of an app is a service of its own,
 * `slipway_<app>_<deployId>`, with `instances` tasks spread over the nodes. Each task publishes its port
 * in host mode on its node (a port the engine picks), so the gateway reaches every task at its node's
 * address, balances across them, and a switch goes as in docker mode: the new service's tasks run and
 * answer, the gateways move to them and drain the old ones, and only then is the old service removed.
 * Task containers carry Slipway's labels, so logs and stats are collected like any container's.
 */
import type { AppSettings } from '@slipway/contracts/settings';
import { volumeName } from '@slipway/contracts/volumes';
import type { AppRecord, Replica } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import type { ContainerInfo, ServiceInfo, TaskInfo } from '../docker/engine';
import { EngineError } from '../docker/client';
import { LABEL, labelsFor } from '../docker/labels';
import { appOverlayName } from '../docker/networks';
import { registryLogin } from '../docker/registry';
import type { NodeInfo } from '../docker/swarm';
import { PipelineError } from '../errors';
import type { Reporter } from '../pipeline/reporter';
import type { BuiltImage } from '../stages/build';
import { removeContainers } from '../stages/cleanup';
import { waitAnswering } from '../stages/health';
import { recordAdopted, recordSwitch, type Live } from '../stages/switch';
import type { ReconcileReport, Runner, Target } from './runner';
import { bringBack, stopForSwitch, stopsFirst } from './stop-first';

/** Service names are DNS labels (63 characters): the app's name is cut, the deploy id keeps them apart. */
export const serviceName = (app: string, deployId: string) => `slipway_${app.slice(0, 34)}_${deployId}`;

/**
 * The health check runs inside the task: node (or busybox wget) asks the app's own health path, which is
 * passed in the environment rather than written into the command. Swarm reports a task running only once
 * it is healthy.
 */
const HEALTH_CMD =
  'node -e "require(\'http\').get({host:\'127.0.0.1\',port:process.env.PORT,path:process.env.SLIPWAY_HEALTH_PATH},r=>process.exit(r.statusCode<500?0:1)).on(\'error\',()=>process.exit(1))" 2>/dev/null || wget -q -O /dev/null "http://127.0.0.1:$PORT$SLIPWAY_HEALTH_PATH"';
const SECOND = 1_000_000_000;
/** Task states in which its container may still run (Swarm's task lifecycle). */
const LIVE_TASK_STATES = new Set(['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);

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
    await this.ctx.engine.images.push(image.image, remote, registryLogin(this.ctx.settings));
  }

  /** start → health → switch: a new service, its tasks answering on their nodes, then the old service goes. */
  async run(image: BuiltImage, target: Target, report: Reporter): Promise<Live> {
    const { ctx } = this;
    const { settings, engine, store } = ctx;
    const name = serviceName(target.app, target.deployId);
    await report.enter('start');
    const [appSettings, before] = await Promise.all([store.getSettings(target.app), store.getAppRecord(target.app)]);
    const pin = appSettings.volumes.length ? await engine.swarm.self() : null;
    const network = await appOverlay(ctx, target.app);
    const stopFirst = stopsFirst(appSettings.switch, before);
    if (stopFirst) await stopForSwitch(ctx, this, target.app, stopFirst, report);
    let replicas: Replica[];
    try {
      await engine.swarm.create(serviceSpec(ctx, target, swarmImage(ctx, image.image), appSettings, pin, network), registryLogin(ctx.settings));
      report.log(`Created service ${name} (${appSettings.instances} × ${swarmImage(ctx, image.image)}${pin ? ', pinned to this node for its volumes' : ''})`);
      if (settings.bind !== '0.0.0.0') report.log(`Swarm publishes task ports on every address of their node: SLIPWAY_BIND does not reach them (docs/swarm.md)`);

      await report.enter('health');
      replicas = await converge(ctx, name, appSettings.instances, (fraction) => void report.within(fraction));
      await answering(ctx, replicas, appSettings.healthPath);
    } catch (err) {
      await this.removeService(name);
      if (stopFirst) await bringBack(ctx, this, target.app, stopFirst, report);
      throw err;
    }
    for (const r of replicas) report.log(`Healthy: task on ${r.node}:${r.port} answers GET ${appSettings.healthPath}`);

    await report.enter('switch');
    const { live, drain } = await recordSwitch(ctx, before, { app: target.app, version: target.version, replicas }, settings.stopGraceS);
    if (drain.gateways) report.log(`Gateway switched to ${target.version} (${drain.drained}/${drain.gateways} drained the old tasks)`);
    for (const old of await engine.swarm.list(target.app)) {
      if (old.name === name) continue;
      report.log(`Removing service ${old.name}`);
      await this.removeService(old.name);
    }
    return live;
  }

  /** Stop = 0 replicas (the service stays, to be scaled up again), once every node has stopped its tasks. */
  async stop(app: string, record: AppRecord): Promise<void> {
    const service = await this.current(app, record);
    if (!service) return;
    await scale(this.ctx, service, 0);
    // Bounded: a lost node's task is never reported stopped, and must not hold the stop forever.
    const deadline = Date.now() + (this.ctx.settings.stopGraceS + 15) * 1000;
    while ((await this.ctx.engine.swarm.tasks(service.name)).some((t) => LIVE_TASK_STATES.has(t.state)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Back to `instances` tasks: new tasks publish new ports, so the gateways learn them from the answer. */
  async resume(app: string, record: AppRecord): Promise<{ replicas: Replica[] }> {
    const service = await this.current(app, record);
    if (!service) throw new PipelineError('not_running', `${app} has no service to start`);
    const { instances, healthPath } = await this.ctx.store.getSettings(app);
    await scale(this.ctx, service, instances);
    const replicas = await converge(this.ctx, service.name, instances, () => {});
    await answering(this.ctx, replicas, healthPath);
    return { replicas };
  }

  /**
   * Every service of the app goes, then any task container it left on this node, then its overlay once
   * the nodes have stopped the tasks attached to it (each has its stop grace).
   */
  async remove(app: string): Promise<void> {
    const { ctx } = this;
    for (const service of await ctx.engine.swarm.list(app)) await this.removeService(service.name);
    await removeContainers(ctx, app);
    const deadline = Date.now() + (ctx.settings.stopGraceS + 15) * 1000;
    for (;;) {
      try {
        await ctx.engine.removeNetworks({ [LABEL.app]: app });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** An interrupted or failed attempt's service goes, unless the app runs it. */
  async clearInterrupted(target: Target): Promise<void> {
    const record = await this.ctx.store.getAppRecord(target.app);
    const service = await this.ctx.engine.swarm.get(serviceName(target.app, target.deployId));
    if (service && !(await this.isCurrentService(service, record))) await this.removeService(service.name);
  }

  /** Any task of the current version, whichever node this worker is on. */
  isCurrent(container: ContainerInfo, record: AppRecord): boolean {
    return container.labels[LABEL.version] === record.current;
  }

  /**
   * Records from the services that really exist (Redis lost, another worker did the work, or Swarm moved
   * tasks): an app's newest service is its current version, at the addresses its tasks answer on now.
   */
  async reconcile(active: ReadonlySet<string>, report: ReconcileReport): Promise<void> {
    const { ctx } = this;
    const byApp = new Map<string, ServiceInfo>();
    for (const service of await ctx.engine.swarm.list()) {
      const app = service.labels[LABEL.app];
      if (app && service.labels[LABEL.version]) byApp.set(app, service);
    }
    for (const [app, service] of byApp) {
      if (active.has(service.labels[LABEL.deploy] ?? '')) continue;
      const version = service.labels[LABEL.version]!;
      const record = await ctx.store.getAppRecord(app);
      if (record.current === version && record.replicas?.length && (record.status === 'stopped') === !service.replicas) continue;
      const replicas = service.replicas ? await upstreamsOf(ctx, service.name) : [];
      if (service.replicas && !replicas.length) continue;
      const first = replicas[0];
      const status = service.replicas ? 'running' : 'stopped';
      await recordAdopted(ctx, app, record, { version, image: service.image, deployId: service.labels[LABEL.deploy] ?? '', port: first?.port ?? record.port ?? null, address: null, containerId: first?.containerId, status, replicas: replicas.length ? replicas : undefined });
      report.adoptedApps.push(app);
    }
  }

  /** The service of the app's current version. */
  async current(app: string, record: AppRecord): Promise<ServiceInfo | null> {
    const services = await this.ctx.engine.swarm.list(app);
    return services.filter((s) => s.labels[LABEL.version] === record.current).at(-1) ?? null;
  }

  private async isCurrentService(service: ServiceInfo, record: AppRecord): Promise<boolean> {
    const app = service.labels[LABEL.app] ?? '';
    return (await this.current(app, record))?.id === service.id && record.current === service.labels[LABEL.version];
  }

  private async removeService(name: string): Promise<void> {
    const service = await this.ctx.engine.swarm.get(name);
    if (service) await this.ctx.engine.swarm.remove(service.id);
  }
}

export function serviceSpec(ctx: Pick<WorkerContext, 'settings'>, target: Target, image: string, app: AppSettings, pinTo: string | null, network: string): Record<string, unknown> {
  const labels = labelsFor(target.app, target.version, target.deployId, ctx.settings.instance);
  const containerPort = app.port ?? 3000;
  return {
    Name: serviceName(target.app, target.deployId),
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
        // Named volumes are local to a node: an app with volumes runs where the worker (and its download and restore) is.
        Mounts: app.volumes.map(({ path }) => ({ Type: 'volume', Source: volumeName(target.app, path), Target: path, VolumeOptions: { Labels: { [LABEL.managed]: 'true', [LABEL.instance]: ctx.settings.instance, [LABEL.app]: target.app } } })),
      },
      Resources: { Limits: { NanoCPUs: Math.round(app.cpus * 1e9), MemoryBytes: app.memoryMb * 1024 * 1024, Pids: 256 } },
      RestartPolicy: { Condition: 'any', Delay: SECOND, MaxAttempts: 0 },
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }], Constraints: pinTo ? [`node.id==${pinTo}`] : [] },
      // The app's own overlay: its tasks reach each other across the nodes, and no other app's.
      Networks: [{ Target: network }],
    },
    Mode: { Replicated: { Replicas: app.instances } },
    // Host mode with no published port: the engine gives each task a free port on its node, so any number
    // of tasks (of this version and the one it replaces) can share a node; the gateway is the way in.
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: containerPort, PublishMode: 'host' }] },
  };
}

/**
 * Waits for `instances` tasks of the service to run (Swarm counts a task running once its health check
 * passes). A task that keeps failing, or the health timeout, ends the deploy with the reason and the
 * task's last lines (when it ran on this node).
 */
async function converge(ctx: WorkerContext, name: string, instances: number, onProgress: (f: number) => void): Promise<Replica[]> {
  const began = Date.now();
  const timeout = ctx.settings.healthTimeoutMs + 10_000;
  let lastError = '';
  while (Date.now() - began < timeout) {
    const tasks = await ctx.engine.swarm.tasks(name);
    const broken = tasks.filter((t) => ['failed', 'rejected'].includes(t.state));
    if (broken.length) lastError = broken.at(-1)!.error;
    if (broken.length >= 3) throw await failed(ctx, tasks, `The service's tasks failed ${broken.length} times: ${lastError || 'they exited'}`);
    const replicas = await upstreamsOf(ctx, name, tasks);
    if (replicas.length >= instances) return replicas;
    onProgress((Date.now() - began) / timeout);
    await new Promise((r) => setTimeout(r, 500));
  }
  const tasks = await ctx.engine.swarm.tasks(name);
  throw await failed(ctx, tasks, `The service's ${instances} task(s) did not all run healthy within ${Math.round(timeout / 1000)} s${lastError ? ` (${lastError})` : ''}`);
}

/** Where the gateways reach the service's running tasks: each one's node address and published port. */
export async function upstreamsOf(ctx: WorkerContext, name: string, known?: TaskInfo[], nodes?: NodeInfo[]): Promise<Replica[]> {
  const [tasks, nodeList] = await Promise.all([known ?? ctx.engine.swarm.tasks(name), nodes ?? ctx.engine.swarm.nodes()]);
  const ready = new Map(nodeList.filter((n) => n.state === 'ready' && n.address).map((n) => [n.id, n.address]));
  return tasks
    .filter((t) => t.desired === 'running' && t.state === 'running' && t.publishedPort && ready.has(t.nodeId))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map((t) => ({ containerId: t.containerId, port: t.publishedPort!, node: ready.get(t.nodeId)! }));
}

/** Each task answers its health path from here, the way the gateway will reach it. */
async function answering(ctx: WorkerContext, replicas: Replica[], healthPath: string): Promise<void> {
  const answers = await Promise.all(replicas.map((r) => waitAnswering(r.node!, r.port, healthPath, ctx.settings.healthTimeoutMs)));
  const bad = answers.findIndex((a) => !a.ok);
  if (bad >= 0) {
    const r = replicas[bad]!;
    const answer = answers[bad] as { last: number | string };
    throw new PipelineError('unhealthy', `The task on ${r.node}:${r.port} runs but GET ${healthPath} answered ${answer.last} from here`);
  }
}

async function failed(ctx: WorkerContext, tasks: TaskInfo[], message: string): Promise<PipelineError> {
  const task = tasks.filter((t) => t.containerId).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  // The task's container is on its node's engine; its lines can be read here only when that is this one.
  const logs = task ? await ctx.engine.streams.tailLogs(task.containerId, 50).catch(() => []) : [];
  return new PipelineError('unhealthy', message, false, logs);
}

/** The app's overlay network (SPEC §3 "Networks", across the nodes), made at its first deploy and removed with the app. */
async function appOverlay(ctx: WorkerContext, app: string): Promise<string> {
  const instance = ctx.settings.instance;
  const labels = { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.app]: app };
  try {
    await ctx.engine.ensureNetwork(appOverlayName(app, instance), labels, { icc: true, pool: ctx.settings.networkPool, driver: 'overlay' });
  } catch (err) {
    throw new PipelineError('start_failed', (err as Error).message, err instanceof EngineError);
  }
  return appOverlayName(app, instance);
}

async function scale(ctx: WorkerContext, service: ServiceInfo, replicas: number): Promise<void> {
  const spec = service.spec as { Mode?: { Replicated?: { Replicas?: number } } };
  await ctx.engine.swarm.update(service, { ...service.spec, Mode: { ...spec.Mode, Replicated: { Replicas: replicas } } }, registryLogin(ctx.settings));
}
