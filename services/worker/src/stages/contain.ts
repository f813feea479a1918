/**
 * What keeps a build inside its limits (SPEC §3 "Networks", issue 12): the Dockerfile may not make the
 * engine fetch URLs from the host (dockerfile.ts), and every step runs with the build's memory, CPU and
 * pid limits on the installation's build network, which reaches the internet (npm needs it) but no app's
 * network, and whose containers cannot reach each other.
 */
import type { BuildLimits, Engine } from '../docker/engine';
import { limitBuildPids } from '../docker/build-pids';
import { LABEL } from '../docker/labels';
import { buildNetworkName } from '../docker/networks';
import { PipelineError } from '../errors';
import { baseImages, instructions, refusedAdds, refusedTriggers } from './dockerfile';

export interface BuildSettings {
  memoryBytes: number;
  cpus: number;
  pids: number;
  networkPool: string;
}

const ADVICE = 'download it in a RUN step (curl, wget) or put the file in the archive';

/** Refuses a Dockerfile, or a base image of it, that would have the engine fetch a URL from the host. */
export async function refuseHostFetches(engine: Engine, dockerfile: string, buildargs: Record<string, string>): Promise<void> {
  const list = instructions(dockerfile);
  const [add] = refusedAdds(list);
  if (add) {
    throw new PipelineError(
      'build_failed',
      `Dockerfile line ${add.line}: ${add.onbuild ? 'ONBUILD ' : ''}ADD ${add.source} is refused: an ADD source may not be a URL or a variable, because the engine would fetch it from Slipway's machine, outside the build's network; ${ADVICE}`,
    );
  }
  for (const image of baseImages(list, buildargs)) {
    if (image.includes('$')) throw new PipelineError('build_failed', `FROM ${image}: Slipway cannot tell which image this names; give the ARG a default or name the image`);
    let config = await engine.images.config(image);
    // Pulled here rather than by the build, so its ONBUILD triggers are read before they run.
    if (!config) {
      await engine.images.pull(image).catch((err: Error) => {
        throw new PipelineError('build_failed', `The base image ${image} could not be pulled: ${err.message}`);
      });
      config = await engine.images.config(image);
    }
    const [trigger] = refusedTriggers(config?.onBuild ?? []);
    if (trigger) {
      throw new PipelineError('build_failed', `The base image ${image} has an ONBUILD ADD of ${trigger}, which is refused: the engine would fetch it from Slipway's machine; build from another image`);
    }
  }
}

/** The build's limits and network; `release` undoes what was set up for this build alone. */
export async function containBuild(
  engine: Engine,
  settings: BuildSettings,
  labels: Record<string, string>,
  onLine: (line: string) => void,
): Promise<{ limits: BuildLimits; release: () => Promise<void> }> {
  const instance = labels[LABEL.instance] ?? 'default';
  const network = await engine.ensureNetwork(buildNetworkName(instance), { [LABEL.managed]: 'true', [LABEL.instance]: instance }, { icc: false, pool: settings.networkPool });
  const pids = await limitBuildPids(await engine.images.buildFacts(), settings.pids);
  if (pids.unlimited) onLine(pids.unlimited);
  return {
    limits: { memoryBytes: settings.memoryBytes, cpus: settings.cpus, network, cgroupParent: pids.cgroupParent },
    release: pids.release,
  };
}

/** The image really carries Slipway's labels, or it would never be found, pruned or reconciled. */
export async function requireLabels(engine: Engine, image: string, labels: Record<string, string>): Promise<void> {
  const config = await engine.images.config(image);
  const missing = Object.keys(labels).filter((k) => config?.labels[k] !== labels[k]);
  if (!missing.length) return;
  await engine.images.removeById(image);
  throw new PipelineError('build_failed', `The image came out without Slipway's labels (${missing.join(', ')}); check the end of the Dockerfile`);
}
