/**
 * How a deploy tells the world where it is: the deploy record (status, stage, progress, outcome) and its
 * event stream (stages and log lines, replayed by SSE). The worker writes deploy records here and nowhere
 * else: the pipeline, reconcile and the post-switch watch ask the reporter. Log lines are batched so a
 * chatty build costs a few Redis round trips per second, not one per line.
 */
import type { Redis } from 'ioredis';
import { STAGE_PROGRESS, type Deploy, type DeployError, type DeployEvent, type DeployKind, type Stage } from '@slipway/contracts/deploy';
import { appendEvents } from '@slipway/records/events';
import type { Store } from '@slipway/records/store';

const FLUSH_MS = 100;
const MAX_LINE = 4000;

export class Reporter {
  private stageNow: Stage = 'queued';
  private progressNow = 0;
  private pending: DeployEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly store: Store,
    readonly deployId: string,
  ) {}

  get stage(): Stage {
    return this.stageNow;
  }

  /** An attempt starts (again, after an interruption or a retry). */
  async running(attempt: number, startedAt: string): Promise<Deploy> {
    return this.store.updateDeploy(this.deployId, { status: 'running', startedAt, attempts: attempt, error: undefined });
  }

  /** How the version was built, for the deploy view (issue 15). */
  async built(build: NonNullable<Deploy['build']>): Promise<void> {
    await this.store.updateDeploy(this.deployId, { build });
  }

  /** A failed attempt that will be retried waits in the queue again. */
  async requeued(): Promise<void> {
    await this.store.updateDeploy(this.deployId, { status: 'queued', stage: 'queued' });
  }

  async succeeded(port: number): Promise<Deploy> {
    await this.enter('done');
    return this.store.updateDeploy(this.deployId, { status: 'succeeded', progress: 100, port, finishedAt: new Date().toISOString() });
  }

  /**
   * The deploy ends failed. `lost`: what to write it again from when its record is gone (Redis emptied
   * mid-deploy), so that it is not silently gone.
   */
  async failed(error: DeployError, lost?: { app: string; version: string; kind: DeployKind; image: string }): Promise<Deploy> {
    if (lost && !(await this.store.getDeploy(this.deployId))) {
      await this.store.createDeploy({ id: this.deployId, ...lost, status: 'failed', stage: 'queued', progress: 0, createdAt: new Date().toISOString() });
    }
    return this.store.updateDeploy(this.deployId, { status: 'failed', finishedAt: new Date().toISOString(), error });
  }

  /** A deploy that succeeded and then failed within the watch window: it keeps when it finished. */
  async failedAfterSwitch(error: DeployError, rolledBack?: Deploy['rolledBack']): Promise<Deploy> {
    return this.store.updateDeploy(this.deployId, { status: 'failed', error, ...(rolledBack ? { rolledBack } : {}) });
  }

  async enter(stage: Stage, message?: string): Promise<void> {
    this.stageNow = stage;
    this.progressNow = STAGE_PROGRESS[stage];
    await this.flush();
    await this.store.updateDeploy(this.deployId, { stage, progress: this.progressNow });
    await appendEvents(this.redis, this.deployId, [{ type: 'stage', stage, progress: this.progressNow, ...(message ? { message } : {}) }]);
  }

  /** Progress inside the current stage, as a fraction of the way to the next stage. */
  async within(fraction: number): Promise<void> {
    const stages = Object.keys(STAGE_PROGRESS) as Stage[];
    const next = stages[stages.indexOf(this.stageNow) + 1];
    const from = STAGE_PROGRESS[this.stageNow];
    const to = next ? STAGE_PROGRESS[next] : 100;
    const progress = Math.round(from + (to - from) * Math.max(0, Math.min(1, fraction)));
    if (progress <= this.progressNow) return;
    this.progressNow = progress;
    // Progress inside a stage is cosmetic: a write lost to a Redis hiccup is made good by the next one.
    await this.store.updateDeploy(this.deployId, { progress }).catch(() => {});
  }

  log(line: string): void {
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    this.pending.push({ type: 'log', stage: this.stageNow, line: text });
    // A batch lost here shows as a gap in the build log; the next stage's enter() flushes and reports errors.
    this.timer ??= setTimeout(() => void this.flush().catch(() => {}), FLUSH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    // The previous batch's error was its caller's; this one only waits for it, to keep the order.
    this.flushing = this.flushing.catch(() => {}).then(() => appendEvents(this.redis, this.deployId, batch));
    await this.flushing;
  }
}
