/**
 * One engine, a container per version: the candidate `slipway-<app>-<version>` starts beside the live one,
 * is health-checked, and the switch drains and stops the old one (SPEC §3). The app's records and the
 * gateways' routes follow the containers, which carry Slipway's labels.
 */
import { announceRoute } from '@slipway/records/route-announcements';
import { keys } from '@slipway/records/redis';
import type { AppRecord } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import type { ContainerInfo } from '../docker/engine';
import { LABEL, labelsFor } from '../docker/labels';
import { PipelineError } from '../errors';
import type { Reporter } from '../pipeline/reporter';
import type { BuiltImage } from '../stages/build';
import { discardCandidate, removeContainers, removeLeftovers } from '../stages/cleanup';
import { probeHost, waitHealthy } from '../stages/health';
import { start, type Candidate } from '../stages/start';
import { recordAdopted, switchTo, type Live } from '../stages/switch';
import { appVolumes } from '../stages/volumes';
import type { ReconcileReport, Runner, Target } from './runner';

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
    const stopFirst = appSettings.switch === 'stop-first' && record.containerId && record.status !== 'stopped' ? record : null;
    if (stopFirst) await this.stopForSwitch(target.app, stopFirst, report);
    let candidate: Candidate | undefined;
    try {
      candidate = await start(engine, {
        ...target,
        image: image.image,
        labels: labelsFor(target.app, target.version, target.deployId, settings.instance),
        settings: appSettings,
        bind: settings.bind,
        stopGraceS: settings.stopGraceS,
        liveContainerId: record.containerId,
        takenPorts: managed.flatMap((c) => c.ports.map((p) => p.hostPort)).filter((p): p is number => typeof p === 'number'),
        networkPool: settings.networkPool,
        mounts,
      });
      report.log(`Started ${candidate.name} on ${settings.bind}:${candidate.hostPort} (container port ${candidate.containerPort})`);

      await report.enter('health');
      const healthy = await waitHealthy(
        engine,
        { candidate, host: probeHost(settings.bind), path: appSettings.healthPath, timeoutMs: settings.healthTimeoutMs },
        (fraction) => void report.within(fraction),
      );
      report.log(`Healthy: GET ${appSettings.healthPath} answered ${healthy.status} after ${healthy.afterMs} ms`);

      await report.enter('switch');
      return await switchTo(this.ctx, { ...target, healthy, stopGraceS: settings.stopGraceS }, (line) => report.log(line));
    } catch (err) {
      const failure = candidate ? await discardCandidate(this.ctx, candidate.containerId, err) : err;
      if (stopFirst) await this.bringBack(target.app, stopFirst, report);
      throw failure;
    }
  }

  /** `switch: "stop-first"`: the gateways stop sending to the old version and it stops, kept for a way back. */
  private async stopForSwitch(app: string, live: AppRecord, report: Reporter): Promise<void> {
    await announceRoute(this.ctx.redis, { app, version: null, port: null, previousPort: live.port ?? null }, this.ctx.settings.stopGraceS * 1000);
    await this.ctx.engine.containers.stop(live.containerId!, this.ctx.settings.stopGraceS);
    report.log(`Stopped ${live.current} first (switch: stop-first): the app does not answer until the new version is healthy`);
  }

  /** A stop-first deploy that failed: the version that ran before runs again, and the gateways go back to it. */
  private async bringBack(app: string, live: AppRecord, report: Reporter): Promise<void> {
    try {
      const { address } = await this.resume(app, live);
      await this.ctx.store.setAppRecord(app, { address: address ?? undefined });
      await announceRoute(this.ctx.redis, { app, version: live.current!, port: live.port ?? null, address, previousPort: null }, 0);
      report.log(`${live.current} runs again`);
    } catch (err) {
      this.ctx.log.error({ app, err: (err as Error).message }, 'could not bring back the version stopped for a stop-first switch');
      report.log(`Could not start ${live.current} again: ${(err as Error).message}`);
    }
  }

  async stop(_app: string, record: AppRecord): Promise<void> {
    await this.ctx.engine.containers.stop(record.containerId!, this.ctx.settings.stopGraceS);
  }

  async resume(app: string, record: AppRecord): Promise<{ address: string | null }> {
    const { engine, store, settings } = this.ctx;
    const state = await engine.containers.state(record.containerId!);
    if (!state) throw new PipelineError('not_running', `The container of ${app} ${record.current} is gone; roll back or deploy to run it again`);
    if (!state.running) await engine.containers.start(record.containerId!);
    const { healthPath } = await store.getSettings(app);
    await waitHealthy(engine, {
      candidate: { containerId: record.containerId!, name: '', finalName: '', hostPort: record.port!, containerPort: 0, address: null },
      host: probeHost(settings.bind),
      path: healthPath,
      timeoutMs: settings.healthTimeoutMs,
    });
    // A container that ran again may have another address on its network.
    return { address: await engine.containers.address(record.containerId!) };
  }

  async remove(app: string): Promise<void> {
    await removeContainers(this.ctx, app);
  }

  async clearInterrupted(target: Target): Promise<void> {
    await removeLeftovers(this.ctx, target);
  }

  isCurrent(container: ContainerInfo, record: AppRecord): boolean {
    return container.id === record.containerId;
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
      // Candidates of deploys that are no longer in progress, and not the current container, are orphans.
      const keep: ContainerInfo[] = [];
      for (const c of byApp.get(app) ?? []) {
        const deployId = c.labels[LABEL.deploy] ?? '';
        if (c.id === record.containerId || active.has(deployId)) keep.push(c);
        else if (c.state === 'running' && !record.containerId) keep.push(c);
        else {
          await ctx.engine.containers.remove(c.id);
          report.removedContainers.push(c.name);
        }
      }
      const current = keep.find((c) => c.id === record.containerId);
      if (current) {
        if (current.address && record.status !== 'stopped') await this.refreshAddress(app, record, current.address);
        continue;
      }
      // The record points at nothing (or nothing is recorded): adopt what really runs, newest deploy first.
      const adopt = keep
        .filter((c) => c.state === 'running' && !active.has(c.labels[LABEL.deploy] ?? ''))
        .sort((a, b) => (b.labels[LABEL.deploy] ?? '').localeCompare(a.labels[LABEL.deploy] ?? ''))[0];
      if (adopt) {
        const port = adopt.ports.find((p) => p.hostPort)?.hostPort ?? null;
        await ctx.engine.containers.keepRunning(adopt.id);
        await recordAdopted(ctx, app, record, { version: adopt.labels[LABEL.version] ?? '', image: adopt.image, deployId: adopt.labels[LABEL.deploy] ?? '', port, address: adopt.address, containerId: adopt.id });
        report.adoptedApps.push(app);
      } else if (record.current) {
        await ctx.store.setAppRecord(app, { current: undefined, port: undefined, address: undefined, containerId: undefined });
        await announceRoute(ctx.redis, { app, version: null, port: null, previousPort: null }, 0);
      }
    }
  }

  /**
   * A container that ran again (the engine or the host restarted) may have another address on its app
   * network: the record and the gateways follow.
   */
  private async refreshAddress(app: string, record: AppRecord, address: string): Promise<void> {
    const { ctx } = this;
    if (address === record.address || !record.current) return;
    await ctx.store.setAppRecord(app, { address });
    await announceRoute(ctx.redis, { app, version: record.current, port: record.port ?? null, address, previousPort: null }, 0);
  }
}
