/**
 * One Slipway per data dir (issue 13): two would run two embedded Redis servers on one AOF file and two
 * workers reconciling the same containers. `<data>/slipway.pid` holds the owner's pid; a file left by a
 * process that is gone (a crash, a power cut) is taken over.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function holdDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'slipway.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        if ((await readFile(file, 'utf8').catch(() => '')).trim() === String(process.pid)) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && alive(owner)) {
        throw new Error(`Another Slipway (pid ${owner}) is running on the data dir ${path.resolve(dataDir)}; stop it, or give this one its own SLIPWAY_DATA_DIR`);
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`Could not take ${file}: another Slipway is starting on the same data dir`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
