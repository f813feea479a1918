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
import { dataPaths } from '@slipway/core/config';
import { appendEvents } from '@slipway/core/events';
import { keys } from '@slipway/core/redis';
import type { AppRecord } from '@slipway/core/store';
import type { WorkerContext } from './context';
import { LABEL } from './docker/labels';
import type { ContainerInfo } from './docker/engine';
import { announceRoute } from '@slipway/core/routes';
import { leaveLine } from './ordering';
import { reconcileSwarm } from './swarm';

/** A deploy younger than this may be between "recorded" and "queued" by the API: leave it alone. */
const GRACE_MS = 60_000;

export interface ReconcileReport {
  failedDeploys: string[];
  removedContainers: string[];
  adoptedApps: string[];
}

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

  if (ctx.settings.orchestrator === 'swarm') {
    // Swarm owns the containers; the services are what runs.
    report.adoptedApps.push(...(await reconcileSwarm(ctx)));
    await removeStaleStaging(ctx, active);
    return report;
  }
  const containers = await ctx.engine.listContainers({ [LABEL.managed]: true });
  const byApp = new Map<string, ContainerInfo[]>();
  for (const c of containers) {
    const app = c.labels[LABEL.app];
    if (app) byApp.set(app, [...(byApp.get(app) ?? []), c]);
  }
  const apps = new Set([...(await ctx.store.listAppNames()), ...byApp.keys()]);
  for (const app of apps) {
    const record = await ctx.store.getAppRecord(app);
    const mine = byApp.get(app) ?? [];
    // Candidates of deploys that are no longer in progress, and not the current container, are orphans.
    const keep: ContainerInfo[] = [];
    for (const c of mine) {
      const deployId = c.labels[LABEL.deploy] ?? '';
      if (c.id === record.containerId || active.has(deployId)) keep.push(c);
      else if (c.state === 'running' && !record.containerId) keep.push(c);
      else {
        await ctx.engine.remove(c.id);
        report.removedContainers.push(c.name);
      }
    }
    const current = keep.find((c) => c.id === record.containerId);
    if (current) {
      if (current.address && record.status !== 'stopped') await refreshAddress(ctx, app, record, current.address);
      continue;
    }
    // The record points at nothing (or nothing is recorded): adopt what really runs, newest deploy first.
    const running = keep
      .filter((c) => c.state === 'running' && !active.has(c.labels[LABEL.deploy] ?? ''))
      .sort((a, b) => (b.labels[LABEL.deploy] ?? '').localeCompare(a.labels[LABEL.deploy] ?? ''));
    const adopt = running[0];
    if (adopt) {
      const version = adopt.labels[LABEL.version] ?? '';
      const port = adopt.ports.find((p) => p.hostPort)?.hostPort;
      const address = adopt.address;
      await ctx.store.setAppRecord(app, { current: version, port, address: address ?? undefined, containerId: adopt.id, startedAt: record.startedAt ?? new Date().toISOString() });
      const known = await ctx.store.getVersion(app, version);
      if (!known || known.state !== 'ok') {
        await ctx.store.putVersion(app, {
          version,
          image: adopt.image,
          deployId: adopt.labels[LABEL.deploy] ?? '',
          state: 'ok',
          createdAt: known?.createdAt ?? new Date().toISOString(),
        });
      }
      report.adoptedApps.push(app);
      // The gateways learn it now rather than at their next full reload.
      await announceRoute(ctx.redis, { app, version, port: port ?? null, address, previousPort: null }, 0);
    } else if (record.current) {
      await ctx.store.setAppRecord(app, { current: undefined, port: undefined, address: undefined, containerId: undefined });
      await announceRoute(ctx.redis, { app, version: null, port: null, previousPort: null }, 0);
    }
  }

  await removeStaleStaging(ctx, active);
  if (report.failedDeploys.length || report.removedContainers.length || report.adoptedApps.length) {
    ctx.log.info(report, 'reconciled with Docker');
  }
  return report;
}

async function markInterrupted(ctx: WorkerContext, deploy: Deploy): Promise<void> {
  const latest = await ctx.store.getDeploy(deploy.id);
  if (!latest || isTerminal(latest.status)) return;
  const failed = await ctx.store.updateDeploy(deploy.id, {
    status: 'failed',
    finishedAt: new Date().toISOString(),
    error: { code: 'interrupted', message: 'Slipway stopped during this deploy and it could not be resumed; deploy it again' },
  });
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

/**
 * A container that ran again (the engine or the host restarted) may have another address on its app
 * network: the record and the gateways follow. Not while a job of the app runs, which may be switching it.
 */
async function refreshAddress(ctx: WorkerContext, app: string, record: AppRecord, address: string): Promise<void> {
  if (address === record.address || !record.current || (await ctx.redis.llen(keys.appLine(app)))) return;
  await ctx.store.setAppRecord(app, { address });
  await announceRoute(ctx.redis, { app, version: record.current, port: record.port ?? null, address, previousPort: null }, 0);
}
