/**
 * Where versions run. A deploy's image, built or kept, goes through one runner: start → health → switch.
 * The Docker runner (one engine, a container per version) and the Swarm runner (a service per app, its
 * tasks on any node) behind the same calls, so the pipeline and the app's lifecycle never ask which one.
 */
import type { AppRecord, Replica } from '@slipway/records/store';
import type { ContainerInfo } from '../docker/engine';
import type { Reporter } from '../pipeline/reporter';
import type { BuiltImage } from '../stages/build';
import type { Live } from '../stages/switch';

export interface Target {
  app: string;
  version: string;
  deployId: string;
}

/** What a reconcile round found and did (logged, and returned to tests). */
export interface ReconcileReport {
  failedDeploys: string[];
  removedContainers: string[];
  adoptedApps: string[];
}

export interface Runner {
  /** After a build: make the image reachable wherever this runner may run it. */
  publish(image: BuiltImage, target: Target, report: Reporter): Promise<void>;
  /** start → health → switch. Throws a PipelineError, after removing what it started, when the version is not healthy. */
  run(image: BuiltImage, target: Target, report: Reporter): Promise<Live>;
  /** Stops the app's current version, kept so that `resume` brings the same one back. */
  stop(app: string, record: AppRecord): Promise<void>;
  /** Runs the stopped current version again until every instance answers; where the gateways reach them now. */
  resume(app: string, record: AppRecord): Promise<{ replicas: Replica[] }>;
  /** Everything of the app that runs goes (its images and files are the lifecycle's). */
  remove(app: string): Promise<void>;
  /** What an interrupted or failed attempt of `deployId` left running, unless it is the app's current version. */
  clearInterrupted(target: Target): Promise<void>;
  /** Makes the records agree with what runs, for every app; `active`: deploys still in progress. */
  reconcile(active: ReadonlySet<string>, report: ReconcileReport): Promise<void>;
  /** Whether a running container is the one of the app's current version (for sampling). */
  isCurrent(container: ContainerInfo, record: AppRecord): boolean;
}
