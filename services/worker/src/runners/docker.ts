/**
 * One engine, a container per version and instance: the candidates `slipway-<app>-<version>`, `-2`, …
 * start beside the live ones, each is health-checked, and the switch drains and stops the old ones
 * (SPEC §3). The app's records and the gateways' routes follow the containers, which carry Slipway's labels.
 */
import { announceRoute, routeTo } from '@slipway/records/route-announcements';
import { keys } from '@slipway/records/redis';
import { replicasOf, type AppRecord, type Replica } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import type { ContainerInfo } from '../docker/engine';
import { LABEL, labelsFor } from '../docker/labels';
import { PipelineError } from '../errors';
import type { Reporter } from '../pipeline/reporter';
import type { BuiltImage } from '../stages/build';
import { discardCandidate, removeContainers, removeLeftovers } from '../stages/cleanup';
import { probeHost, waitHealthy, type Healthy } from '../stages/health';
import { start, type Candidate } from '../stages/start';
import { recordAdopted, switchTo, type Live } from '../stages/switch';
import { appVolumes } from '../stages/volumes';
import type { ReconcileReport, Runner, Target } from './runner';
import { bringBack, stopForSwitch, stopsFirst } from './stop-first';

export class DockerRunner implements Runner {
  constructor(private readonly ctx: WorkerContext) {}

  async publish(): Promise<void> {
    // One engine: the image is already where it runs.
  }

  async run(image: BuiltImage, target: Target, report: Reporter): Promise<Live> {
    const { settings, engine, store } = this.ctx;
    await report.enter('start');
    const [appSettings, record, managed] = await Promise.all([
      store.getSettings(target.app),
      store.getAppRecord(target.app),
      engine.containers.list({ [LABEL.managed]: true }),
    ]);
    const mounts = await appVolumes(this.ctx, target.app, settings.instance, appSettings);
    // A single writer of its volumes: the old version stops before the new one starts (a short gap).
    const stopFirst = record.containerId ? stopsFirst(appSettings.switch, record) : null;
    if (stopFirst) await stopForSwitch(this.ctx, this, target.app, stopFirst, report);
    const candidates: Candidate[] = [];
    let failed: Candidate | undefined;
    try {
      const takenPorts = managed.flatMap((c) => c.ports.map((p) => p.hostPort)).filter((p): p is number => typeof p === 'number');
      // One after the other: each takes a port the next must not be offered.
      for (let replica = 0; replica < appSettings.instances; replica++) {
        const candidate = await start(engine, {
          ...target,
          image: image.image,
          labels: labelsFor(target.app, target.version, target.deployId, settings.instance),
          replica,
          settings: appSettings,
          bind: settings.bind,
          stopGraceS: settings.stopGraceS,
          liveContainerIds: replicasOf(record).map((r) => r.containerId),
          takenPorts: [...takenPorts, ...candidates.map((c) => c.hostPort)],
          networkPool: settings.networkPool,
          mounts,
        });
        candidates.push(candidate);
        report.log(`Started ${candidate.name} on ${settings.bind}:${candidate.hostPort} (container port ${candidate.containerPort})`);
      }

      await report.enter('health');
      // Every instance must be healthy before any takes traffic; progress follows the first.
      const checks = await Promise.allSettled(
        candidates.map((candidate, i) =>
          waitHealthy(
            engine,
            { candidate, host: probeHost(settings.bind), path: appSettings.healthPath, timeoutMs: settings.healthTimeoutMs },
            i === 0 ? (fraction) => void report.within(fraction) : undefined,
          ),
        ),
      );
      const refused = checks.findIndex((c) => c.status === 'rejected');
      if (refused >= 0) {
        failed = candidates[refused];
        throw (checks[refused] as PromiseRejectedResult).reason;
      }
      const healthy = checks.map((c) => (c as PromiseFulfilledResult<Healthy>).value);
      for (const h of healthy) report.log(`Healthy${healthy.length > 1 ? ` (${h.name})` : ''}: GET ${appSettings.healthPath} answered ${h.status} after ${h.afterMs} ms`);

      await report.enter('switch');
      return await switchTo(this.ctx, { ...target, healthy, stopGraceS: settings.stopGraceS }, (line) => report.log(line));
    } catch (err) {
      // The error carries the logs of the instance that failed (the first one when it was not a health check).
      const first = failed ?? candidates[0];
      const failure = first ? await discardCandidate(this.ctx, first.containerId, err) : err;
      for (const c of candidates) if (c !== first) await engine.containers.remove(c.containerId);
      if (stopFirst) await bringBack(this.ctx, this, target.app, stopFirst, report);
      throw failure;
    }
  }

  async stop(_app: string, record: AppRecord): Promise<void> {
    await Promise.all(replicasOf(record).map((r) => this.ctx.engine.containers.stop(r.containerId, this.ctx.settings.stopGraceS)));
  }

  async resume(app: string, record: AppRecord): Promise<{ replicas: Replica[] }> {
    const { engine, store, settings } = this.ctx;
    const { healthPath } = await store.getSettings(app);
    const replicas = await Promise.all(
      replicasOf(record).map(async (replica): Promise<Replica> => {
        const state = await engine.containers.state(replica.containerId);
        if (!state) throw new PipelineError('not_running', `A container of ${app} ${record.current} is gone; roll back or deploy to run it again`);
        if (!state.running) await engine.containers.start(replica.containerId);
        await waitHealthy(engine, {
          candidate: { containerId: replica.containerId, name: '', finalName: '', hostPort: replica.port, containerPort: 0, address: null },
          host: probeHost(settings.bind),
          path: healthPath,
          timeoutMs: settings.healthTimeoutMs,
        });
        // A container that ran again may have another address on its network.
        return { ...replica, address: (await engine.containers.address(replica.containerId)) ?? undefined };
      }),
    );
    return { replicas };
  }

  async remove(app: string): Promise<void> {
    await removeContainers(this.ctx, app);
  }

  async clearInterrupted(target: Target): Promise<void> {
    await removeLeftovers(this.ctx, target);
  }

  isCurrent(container: ContainerInfo, record: AppRecord): boolean {
    return replicasOf(record).some((r) => r.containerId === container.id);
  }

  async reconcile(active: ReadonlySet<string>, report: ReconcileReport): Promise<void> {
    const { ctx } = this;
    const byApp = new Map<string, ContainerInfo[]>();
    for (const c of await ctx.engine.containers.list({ [LABEL.managed]: true })) {
      const app = c.labels[LABEL.app];
      if (app) byApp.set(app, [...(byApp.get(app) ?? []), c]);
    }
    for (const app of new Set([...(await ctx.store.listAppNames()), ...byApp.keys()])) {
      // An app with a deploy in its line is that job's to tidy: its switch tells the gateways before it removes
      // anything. Removing here could leave them on a container that is gone (a worker killed between
      // writing the app's record and announcing it), answering 502 until the job's own switch.
      if (await ctx.redis.llen(keys.appLine(app))) continue;
      const record = await ctx.store.getAppRecord(app);
      const currentIds = new Set(replicasOf(record).map((r) => r.containerId));
      // Candidates of deploys that are no longer in progress, and not the current containers, are orphans.
      const keep: ContainerInfo[] = [];
      for (const c of byApp.get(app) ?? []) {
        const deployId = c.labels[LABEL.deploy] ?? '';
        if (currentIds.has(c.id) || active.has(deployId)) keep.push(c);
        else if (c.state === 'running' && !record.containerId) keep.push(c);
        else {
          await ctx.engine.containers.remove(c.id);
          report.removedContainers.push(c.name);
        }
      }
      if (keep.some((c) => c.id === record.containerId)) {
        if (record.status !== 'stopped') await this.refreshAddresses(app, record, keep);
        continue;
      }
      // The record points at nothing (or nothing is recorded): adopt what really runs, the newest deploy's
      // containers, all its instances.
      const running = keep.filter((c) => c.state === 'running' && !active.has(c.labels[LABEL.deploy] ?? ''));
      const newest = running.map((c) => c.labels[LABEL.deploy] ?? '').sort().at(-1);
      const adopt = running.filter((c) => (c.labels[LABEL.deploy] ?? '') === newest).sort((a, b) => Number(a.labels[LABEL.replica] ?? 0) - Number(b.labels[LABEL.replica] ?? 0));
      const first = adopt[0];
      if (first) {
        const replicas = adopt.flatMap((c): Replica[] => {
          const port = c.ports.find((p) => p.hostPort)?.hostPort;
          return port ? [{ containerId: c.id, port, address: c.address ?? undefined }] : [];
        });
        for (const c of adopt) await ctx.engine.containers.keepRunning(c.id);
        await recordAdopted(ctx, app, record, {
          version: first.labels[LABEL.version] ?? '',
          image: first.image,
          deployId: newest ?? '',
          port: replicas[0]?.port ?? null,
          address: first.address,
          containerId: first.id,
          replicas,
        });
        report.adoptedApps.push(app);
      } else if (record.current) {
        await ctx.store.setAppRecord(app, { current: undefined, port: undefined, address: undefined, containerId: undefined, replicas: undefined });
        await announceRoute(ctx.redis, { app, version: null, port: null, previousPort: null }, 0);
      }
    }
  }

  /**
   * Containers that ran again (the engine or the host restarted) may have other addresses on their app
   * network: the record and the gateways follow.
   */
  private async refreshAddresses(app: string, record: AppRecord, found: ContainerInfo[]): Promise<void> {
    const { ctx } = this;
    if (!record.current) return;
    const replicas = replicasOf(record).map((r) => ({ ...r, address: found.find((c) => c.id === r.containerId)?.address ?? r.address }));
    if (replicas.every((r, i) => r.address === replicasOf(record)[i]?.address)) return;
    await ctx.store.setAppRecord(app, { address: replicas[0]?.address, replicas });
    await announceRoute(ctx.redis, { app, ...routeTo(record.current, replicas), previousPort: null }, 0);
  }
}
