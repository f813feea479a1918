/**
 * Docker's labels are the source of truth (SPEC §3). At start and then periodically, the worker makes
 * Slipway's records agree with what really runs: deploys orphaned by a crash end `failed`, candidates of
 * failed deploys are removed, and each app's current version is the container really running.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { isTerminal, type Deploy } from '@slipway/contracts/deploy';
import type { DeployJob } from '@slipway/contracts/job';
import { dataPaths } from '@slipway/runtime/config';
import { appendEvents } from '@slipway/records/events';
import type { WorkerContext } from '../context';
import { leaveLine } from '../jobs/ordering';
import { Reporter } from '../pipeline/reporter';
import { runnerFor } from '../runners';
import type { ReconcileReport } from '../runners/runner';

/** A deploy younger than this may be between "recorded" and "queued" by the API: leave it alone. */
const GRACE_MS = 60_000;

export async function reconcile(ctx: WorkerContext, queue: Queue<DeployJob>): Promise<ReconcileReport> {
  const report: ReconcileReport = { failedDeploys: [], removedContainers: [], adoptedApps: [] };
  const unfinished = await ctx.store.deploysWithStatus(['queued', 'running']);
  const active = new Set<string>();
  for (const deploy of unfinished) {
    const state = await queue.getJobState(deploy.id);
    const alive = state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
    if (alive || Date.now() - Date.parse(deploy.createdAt) < GRACE_MS) {
      active.add(deploy.id);
      continue;
    }
    await markInterrupted(ctx, deploy);
    report.failedDeploys.push(deploy.id);
  }

  // What runs (containers, or a swarm's services) is the truth the records are made to agree with.
  await runnerFor(ctx).reconcile(active, report);
  await removeStaleStaging(ctx, active);
  if (report.failedDeploys.length || report.removedContainers.length || report.adoptedApps.length) {
    ctx.log.info(report, 'reconciled with Docker');
  }
  return report;
}

async function markInterrupted(ctx: WorkerContext, deploy: Deploy): Promise<void> {
  const latest = await ctx.store.getDeploy(deploy.id);
  if (!latest || isTerminal(latest.status)) return;
  const failed = await new Reporter(ctx.redis, ctx.store, deploy.id).failed({ code: 'interrupted', message: 'Slipway stopped during this deploy and it could not be resumed; deploy it again' });
  await ctx.store.settleVersion(deploy.app, deploy.version, deploy.id, 'failed');
  await appendEvents(ctx.redis, deploy.id, [{ type: 'done', deploy: failed }]);
  await leaveLine(ctx.redis, deploy.app, deploy.id, ctx.queue);
}

/** `.unpack-<deployId>` folders of deploys no longer running. */
async function removeStaleStaging(ctx: WorkerContext, active: Set<string>): Promise<void> {
  const cluster = dataPaths(ctx.settings.dataDir).cluster;
  const apps = await readdir(cluster).catch(() => [] as string[]);
  for (const app of apps) {
    const entries = await readdir(path.join(cluster, app)).catch(() => [] as string[]);
    for (const entry of entries) {
      const match = /^\.unpack-([^.]+)/.exec(entry);
      if (match?.[1] && !active.has(match[1])) await rm(path.join(cluster, app, entry), { recursive: true, force: true });
    }
  }
}
