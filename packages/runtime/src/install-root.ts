/**
 * Where Slipway is installed: the folder holding `templates/Dockerfile.node` (and `ui/build/`). Found by
 * walking up from this module, so the same code finds it run from source (packages/runtime/src) and from
 * the compiled bundle (dist/).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'templates', 'Dockerfile.node'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Slipway's templates/ folder was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const INSTALL_ROOT = find();
export const installPath = (...parts: string[]) => path.join(INSTALL_ROOT, ...parts);
