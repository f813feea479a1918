/** The one place that picks where versions run (SLIPWAY_ORCHESTRATOR). */
import type { WorkerContext } from '../context';
import { DockerRunner } from './docker';
import type { Runner } from './runner';
import { SwarmRunner } from './swarm';

export function runnerFor(ctx: WorkerContext): Runner {
  return ctx.settings.orchestrator === 'swarm' ? new SwarmRunner(ctx) : new DockerRunner(ctx);
}
