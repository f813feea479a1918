/**
 * `npm start`: checks the Docker Engine, starts an embedded Redis when REDIS_URL is unset, then runs
 * the API, the worker and the gateway as child processes and keeps them running. Ctrl-C stops all of it.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, settingsOrExit } from '@slipway/core/config';
import { Engine } from '@slipway/worker/docker/engine';
import { DOCKER_MISSING_HELP } from '@slipway/worker/docker/help';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (msg: string) => console.log(`[slipway] ${msg}`);

const settings = settingsOrExit(() => loadSettings(process.env));

await buildPanelIfStale();

const engine = new Engine(settings.dockerHost);
if (!(await engine.ping(5000))) {
  console.error(`[slipway] ${DOCKER_MISSING_HELP}`);
  process.exit(1);
}
const { version } = await engine.version();
say(`Docker Engine ${version} reachable`);

let redis: EmbeddedRedis | null = null;
let redisUrl = settings.redisUrl;
if (!redisUrl) {
  redis = await startEmbeddedRedis(settings.dataDir, say);
  redisUrl = redis.url;
}

const children = new Map<string, ChildProcess>();
let stopping = false;

function run(service: 'api' | 'worker' | 'gateway', restarts = 0): void {
  const child = fork(`${root}services/${service}/src/main.ts`, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, REDIS_URL: redisUrl },
    stdio: 'inherit',
  });
  const began = Date.now();
  children.set(service, child);
  child.on('exit', (code, signal) => {
    children.delete(service);
    if (stopping) return;
    // A crash right at start is a configuration problem (port taken, bad setting): stop, don't loop.
    if (Date.now() - began < 5000 && restarts >= 2) {
      console.error(`[slipway] ${service} keeps exiting at start (code ${code ?? signal}); stopping.`);
      void stop(1);
      return;
    }
    const delay = Math.min(1000 * 2 ** restarts, 15_000);
    say(`${service} exited (${code ?? signal}); restarting in ${delay / 1000} s`);
    setTimeout(() => run(service, Date.now() - began > 60_000 ? 0 : restarts + 1), delay);
  });
}

run('worker');
run('gateway');
run('api');
say(`API and panel: http://${settings.host}:${settings.port}/   apps: http://<app>.${settings.domain}:${settings.gatewayPort}/   data: ${settings.dataDir}`);

async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(killer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  await redis?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

/** The panel is built on the first start, and again when its sources are newer than the build. */
async function buildPanelIfStale(): Promise<void> {
  const built = await stat(`${root}ui/build/index.html`).catch(() => null);
  if (built && (await newestMtime(`${root}ui/src`)) < built.mtimeMs) return;
  say('building the panel (ui/)…');
  const result = spawnSync('npm', ['run', 'build', '--workspace', 'ui', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) say('the panel did not build; the API still runs (see the error above)');
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const info = await stat(path.join(entry.parentPath, entry.name));
    newest = Math.max(newest, info.mtimeMs);
  }
  return newest;
}
