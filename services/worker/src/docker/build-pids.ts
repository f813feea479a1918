/**
 * A pid limit for builds (SLIPWAY_BUILD_PIDS). The legacy builder takes memory and CPU limits for its step
 * containers but no pids limit (API 1.41 `POST /build` has no such option, and the step's HostConfig gets
 * none); it does take a cgroup parent. So each build runs under a parent cgroup of its own whose `pids.max`
 * is the limit: the kernel counts every process and thread below it.
 *
 * That takes the engine's own cgroup tree, writable from here: a local engine in this cgroup namespace,
 * with the cgroupfs driver on cgroup v1. The systemd driver only takes slices, whose limits are systemd's to
 * set, and a worker in a container sees its own tree: there builds run without a pid limit, and the build
 * log says so (docs/security.md names the remedy).
 */
import { mkdir, readdir, readFile, readlink, rmdir, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

const CGROUP = '/sys/fs/cgroup';
const PARENT = 'slipway-builds';

export interface BuildPids {
  /** For the build's `cgroupparent`, when the limit could be set. */
  cgroupParent?: string;
  /** Why there is no limit, for the build log. */
  unlimited?: string;
  release(): Promise<void>;
}

export interface EngineFacts {
  local: boolean;
  cgroupDriver: string;
  cgroupVersion: string;
}

export async function limitBuildPids(engine: EngineFacts, pids: number): Promise<BuildPids> {
  const none = (why: string): BuildPids => ({ unlimited: `Build processes are not limited (SLIPWAY_BUILD_PIDS): ${why}`, release: async () => {} });
  if (!engine.local) return none('the engine is not on this machine');
  if (engine.cgroupDriver !== 'cgroupfs' || engine.cgroupVersion !== '1') {
    return none(`the engine uses the ${engine.cgroupDriver} cgroup driver on cgroup v${engine.cgroupVersion}; only cgroupfs on v1 is supported`);
  }
  if (!(await sameCgroupTreeAsEngine())) return none("this worker does not share the engine's cgroup tree (is it in a container?)");
  await sweepStale();
  const id = randomBytes(6).toString('hex');
  const dir = path.join(CGROUP, 'pids', PARENT, id);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'pids.max'), String(pids));
  } catch (err) {
    // Nothing may have been made: the reason that matters is the one returned below.
    await rmdir(dir).catch(() => {});
    return none(`could not write ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return { cgroupParent: `/${PARENT}/${id}`, release: () => removeEverywhere(id) };
}

/**
 * runc made the parent in every hierarchy. A failed step's container may still be going when the build's
 * stream ends (its cgroup keeps the parent busy), so each is tried for a few seconds.
 */
async function removeEverywhere(id: string, tries = 20): Promise<void> {
  for (const hierarchy of await readdir(CGROUP).catch(() => [] as string[])) {
    const dir = path.join(CGROUP, hierarchy, PARENT, id);
    for (let attempt = 1; attempt <= tries; attempt++) {
      const code = await rmdir(dir).then(
        () => 'ok',
        (err: NodeJS.ErrnoException) => err.code,
      );
      if (code !== 'EBUSY' || attempt === tries) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A build never runs longer than SLIPWAY_BUILD_TIMEOUT_S allows (24 h): older parents are leftovers of a killed worker. */
const STALE_MS = 25 * 3600 * 1000;

async function sweepStale(): Promise<void> {
  const root = path.join(CGROUP, 'pids', PARENT);
  for (const id of await readdir(root).catch(() => [] as string[])) {
    const since = await stat(path.join(root, id)).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (/^[0-9a-f]{12}$/.test(id) && since > STALE_MS) await removeEverywhere(id, 1);
  }
}

let sameTree = false;

/** Whether dockerd runs in this cgroup namespace, so a cgroup path means the same directory to both. */
async function sameCgroupTreeAsEngine(): Promise<boolean> {
  if (sameTree) return true;
  const own = await readlink('/proc/self/ns/cgroup').catch(() => null);
  if (!own) return false;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() !== 'dockerd') continue;
    sameTree = (await readlink(`/proc/${pid}/ns/cgroup`).catch(() => null)) === own;
    return sameTree;
  }
  return false;
}
