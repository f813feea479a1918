/**
 * After a deploy's switch, the new version is watched for SLIPWAY_WATCH_S: if it crash-loops (exits, restarts)
 * or stops answering its health path, the previous good version is rolled back in automatically, through
 * the app's line like any rollback. The watch lives in Redis ({deployId, until}), so a worker that
 * restarts picks it up again; a newer deploy of the app ends it. Rollbacks and restarts are not watched:
 * going back from a rollback would return to the version just left, and a restart has no other version.
 */
import { enqueueDeploy } from '@slipway/records/enqueue';
import { newDeployId } from '@slipway/records/ids';
import { notify } from '@slipway/records/notify';
import { keys } from '@slipway/records/redis';
import { replicasOf } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import { Reporter } from '../pipeline/reporter';
import { probe, probeHost } from '../stages/health';

const EVERY_MS = 1_000;
const FAILED_PROBES = 3;

interface WatchRecord {
  deployId: string;
  version: string;
  containerId: string;
  port: number;
  until: number;
}

export class Watcher {
  private readonly active = new Set<string>();

  constructor(private readonly ctx: WorkerContext) {}

  async begin(app: string, watch: Omit<WatchRecord, 'until'>): Promise<void> {
    if (this.ctx.settings.watchMs <= 0) return;
    const record: WatchRecord = { ...watch, until: Date.now() + this.ctx.settings.watchMs };
    await this.ctx.redis.set(keys.appWatch(app), JSON.stringify(record), 'PX', this.ctx.settings.watchMs + 60_000);
    this.run(app, record);
  }

  /** A newer deploy, rollback or restart of the app takes over: the old watch ends. */
  async end(app: string): Promise<void> {
    await this.ctx.redis.del(keys.appWatch(app));
  }

  /** Watches left by a worker that stopped. */
  async resume(): Promise<void> {
    for (const app of await this.ctx.store.listAppNames()) {
      const raw = await this.ctx.redis.get(keys.appWatch(app));
      if (raw) this.run(app, JSON.parse(raw) as WatchRecord);
    }
  }

  private run(app: string, watch: WatchRecord): void {
    const key = `${app}:${watch.deployId}`;
    if (this.active.has(key)) return;
    this.active.add(key);
    void this.loop(app, watch)
      .catch((err: Error) => this.ctx.log.warn({ app, err: err.message }, 'watch failed'))
      .finally(() => this.active.delete(key));
  }

  private async loop(app: string, watch: WatchRecord): Promise<void> {
    const healthPath = (await this.ctx.store.getSettings(app)).healthPath;
    let failedProbes = 0;
    while (Date.now() < watch.until) {
      await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
      if (!(await this.stillMine(app, watch))) return;
      // Under Swarm the task may run on another node, and Swarm restarts it there: only its answers count,
      // at wherever the records say it is now (a drained node's task comes back elsewhere, on a new port).
      const swarm = this.ctx.settings.orchestrator === 'swarm';
      const state = swarm ? null : await this.ctx.engine.containers.state(watch.containerId);
      if (!swarm && (!state || !state.running || state.restarting || state.restartCount > 0)) {
        // Running again after a restart, the container no longer tells the code it exited with.
        const why = !state
          ? 'its container disappeared'
          : state.oomKilled
            ? 'it ran out of memory'
            : state.running || state.restarting
              ? `it exited and the engine restarted it (${state.restartCount}×)`
              : `it exited with code ${state.exitCode}`;
        return this.rollBack(app, watch, `${why} within ${Math.round(this.ctx.settings.watchMs / 1000)} s after the switch`);
      }
      const task = swarm ? replicasOf(await this.ctx.store.getAppRecord(app))[0] : undefined;
      const status = task?.node ? await probe(task.node, task.port, healthPath, 2000) : await probe(probeHost(this.ctx.settings.bind), watch.port, healthPath, 2000);
      failedProbes = typeof status === 'number' && status < 500 ? 0 : failedProbes + 1;
      if (failedProbes >= FAILED_PROBES) {
        return this.rollBack(app, watch, `GET ${healthPath} failed ${FAILED_PROBES} times in a row after the switch (last: ${status})`);
      }
    }
    if (await this.stillMine(app, watch)) await this.end(app);
  }

  private async stillMine(app: string, watch: WatchRecord): Promise<boolean> {
    const raw = await this.ctx.redis.get(keys.appWatch(app));
    return raw !== null && (JSON.parse(raw) as WatchRecord).deployId === watch.deployId;
  }

  private async rollBack(app: string, watch: WatchRecord, reason: string): Promise<void> {
    await this.end(app);
    const record = await this.ctx.store.getAppRecord(app);
    const queuedAfter = await this.ctx.redis.llen(keys.appLine(app));
    const failed = await this.ctx.store.getDeploy(watch.deployId);
    if (!failed) return;
    const target = record.current === watch.version ? record.previous : undefined;
    const previous = target ? await this.ctx.store.getVersion(app, target) : null;
    await this.ctx.store.settleVersion(app, watch.version, watch.deployId, 'failed');
    const reporter = new Reporter(this.ctx.redis, this.ctx.store, watch.deployId);

    if (!target || previous?.state !== 'ok' || queuedAfter > 0) {
      const why = !target || previous?.state !== 'ok' ? 'no earlier good version to go back to' : 'a newer deploy of the app is queued';
      const deploy = await reporter.failedAfterSwitch({ code: 'unhealthy', message: `${reason}; not rolled back: ${why}` });
      await notify(this.ctx.redis, { type: 'deploy', deploy });
      this.ctx.log.warn({ app, version: watch.version, reason, why }, 'new version failed after the switch');
      return;
    }

    const rollbackId = newDeployId();
    const deploy = await reporter.failedAfterSwitch({ code: 'unhealthy', message: `${reason}; rolled back to ${target} automatically` }, { by: rollbackId, to: target, reason });
    await notify(this.ctx.redis, { type: 'deploy', deploy });
    await enqueueDeploy(
      { redis: this.ctx.redis, store: this.ctx.store, queue: this.ctx.queue, imagePrefix: this.ctx.settings.imagePrefix },
      { id: rollbackId, app, version: target, kind: 'rollback', trigger: 'auto' },
      { kind: 'rollback' },
    );
    this.ctx.log.warn({ app, from: watch.version, to: target, reason }, 'rolling back automatically');
  }
}
