/**
 * `switch: "stop-first"`, for an app that must be the only writer of its volumes: the running version stops
 * before the new one starts (a short gap instead of an overlap), and runs again if the new one fails. The
 * same in both runners; each stops and resumes its own way.
 */
import { announceRoute, leaving, routeTo } from '@slipway/records/route-announcements';
import type { AppRecord } from '@slipway/records/store';
import type { WorkerContext } from '../context';
import type { Reporter } from '../pipeline/reporter';
import type { Runner } from './runner';

/** The running version to stop first, when the app asks for it and one runs. */
export function stopsFirst(mode: string, record: AppRecord): AppRecord | null {
  return mode === 'stop-first' && record.current && record.status !== 'stopped' ? record : null;
}

/** The gateways stop sending to the old version, then it stops, kept for a way back. */
export async function stopForSwitch(ctx: WorkerContext, runner: Pick<Runner, 'stop'>, app: string, live: AppRecord, report: Reporter): Promise<void> {
  await announceRoute(ctx.redis, { app, version: null, port: null, ...leaving(live) }, ctx.settings.stopGraceS * 1000);
  await runner.stop(app, live);
  report.log(`Stopped ${live.current} first (switch: stop-first): the app does not answer until the new version is healthy`);
}

/** A stop-first deploy that failed: the version that ran before runs again, and the gateways go back to it. */
export async function bringBack(ctx: WorkerContext, runner: Pick<Runner, 'resume'>, app: string, live: AppRecord, report: Reporter): Promise<void> {
  try {
    const { replicas } = await runner.resume(app, live);
    await ctx.store.setAppRecord(app, { address: replicas[0]?.address, replicas });
    await announceRoute(ctx.redis, { app, ...routeTo(live.current!, replicas), previousPort: null }, 0);
    report.log(`${live.current} runs again`);
  } catch (err) {
    ctx.log.error({ app, err: (err as Error).message }, 'could not bring back the version stopped for a stop-first switch');
    report.log(`Could not start ${live.current} again: ${(err as Error).message}`);
  }
}
