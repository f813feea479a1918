/**
 * Slipway's entry (`npm start`, compose, `node dist/slipway.js`). `SLIPWAY_ROLE=all` (the default) runs the
 * worker, the gateway and the API in this one process, after checking the Docker Engine and starting an
 * embedded Redis when REDIS_URL is unset; a data dir is held by one such Slipway at a time. Any other role
 * runs that one service (compose, scaling out). Ctrl-C stops all of it. `healthcheck` as the argument checks
 * a running one instead (the image's container healthcheck).
 */
import { loadServiceSettings, loadSettings, settingsOrExit } from '@slipway/runtime/config';
import { startOrExit, stopOnSignals, type Service } from '@slipway/runtime/service';
import { startApi } from '@slipway/api/service';
import { startGateway } from '@slipway/gateway/service';
import { Engine } from '@slipway/worker/docker/engine';
import { DOCKER_MISSING_HELP } from '@slipway/worker/docker/help';
import { startWorker } from '@slipway/worker/service';
import { holdDataDir } from './data-dir-lock';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis';
import { healthy } from './healthcheck';
import { dockerSocketPath, runAs } from './privileges';

const say = (msg: string) => console.log(`[slipway] ${msg}`);
const starters = { api: startApi, worker: startWorker, gateway: startGateway } as const;

const settings = settingsOrExit(() => loadSettings(process.env));
if (process.argv[2] === 'healthcheck') process.exit((await healthy(settings)) ? 0 : 1);
if (settings.runAs) {
  const talksToEngine = settings.role === 'worker' || settings.role === 'all';
  say(`running ${runAs(settings.runAs, talksToEngine ? dockerSocketPath(settings.dockerHost) : null)}`);
}
const services: Service[] = [];
let redis: EmbeddedRedis | null = null;
let release = async () => {};
/** Whatever has started, stopped in reverse: on Ctrl-C, and when a later part cannot start. */
async function stopStarted(): Promise<void> {
  for (const service of [...services].reverse()) await service.stop();
  await redis?.stop();
  await release();
}
stopOnSignals(() => [], stopStarted);

if (settings.role !== 'all') {
  const role = settings.role;
  services.push(await startOrExit(() => starters[role](settingsOrExit(() => loadServiceSettings(role)))));
} else {
  release = await startOrExit(() => holdDataDir(settings.dataDir));
  try {
    const engine = new Engine(settings.dockerHost);
    if (!(await engine.ping(5000))) throw new Error(DOCKER_MISSING_HELP);
    say(`Docker Engine ${(await engine.version()).version} reachable`);
    let redisUrl = settings.redisUrl;
    if (!redisUrl) {
      redis = await startEmbeddedRedis(settings.dataDir, say);
      redisUrl = redis.url;
    }
    const withRedis = { ...settings, redisUrl };
    // The worker first (it reconciles what the engine holds), the API last (it is what users reach).
    for (const role of ['worker', 'gateway', 'api'] as const) services.push(await starters[role](withRedis));
  } catch (err) {
    // A port taken, no engine: nothing is left behind (an orphaned redis-server would hold the data dir's files).
    console.error(`[slipway] ${(err as Error).message}`);
    await stopStarted();
    process.exit(1);
  }
  say(`API and panel: http://${settings.host}:${settings.port}/   apps: http://<app>.${settings.domain}:${settings.gatewayPort}/   data: ${settings.dataDir}`);
}
