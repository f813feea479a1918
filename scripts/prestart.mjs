/**
 * Before `npm start`: builds the panel and compiles the server when either is missing or older than its
 * sources, so `npm ci && npm start` works on a fresh checkout and after a `git pull`. Plain JS: it runs
 * before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (msg) => console.log(`[slipway] ${msg}`);

async function newest(dirs) {
  let latest = 0;
  for (const dir of dirs) {
    const entries = await readdir(path.join(root, dir), { withFileTypes: true, recursive: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isFile() || e.parentPath.includes(`${path.sep}node_modules`)) continue;
      latest = Math.max(latest, (await stat(path.join(e.parentPath, e.name))).mtimeMs);
    }
  }
  return latest;
}

async function stale(output, sources) {
  const built = await stat(path.join(root, output)).catch(() => null);
  return !built || (await newest(sources)) > built.mtimeMs;
}

function run(what, args) {
  say(`${what}…`);
  const result = spawnSync('npm', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) {
    console.error(`[slipway] ${what} failed (see above)`);
    process.exit(1);
  }
}

if (await stale('ui/build/index.html', ['ui/src', 'packages/contracts/src'])) run('building the panel (ui/)', ['run', 'build', '--workspace', 'ui', '--silent']);
if (await stale('dist/slipway.js', ['scripts', 'packages/contracts/src', 'packages/records/src', 'packages/runtime/src', 'services/api/src', 'services/worker/src', 'services/gateway/src'])) {
  run('compiling the server (dist/)', ['run', 'build:server', '--silent']);
}
