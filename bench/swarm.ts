/**
 * bench/swarm: the time of a deploy (`instances: 2`) on two Swarm nodes against docker mode on one, in the
 * same run, and against the raw docker CLI doing the swarm deploy's work (docker build, docker push,
 * docker service create with two host-mode tasks, polling until both run, removing the previous service;
 * no health check).
 * Every version's build step names the version, so no deploy comes from the layer cache. The two nodes
 * are test/helpers/two-nodes.ts's (a second engine in a network namespace, a registry between them that
 * asks for a login: both Slipway and the CLI log in).
 *
 *   npx tsx bench/swarm.ts [rounds=3]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { call, upload, waitForDeploy } from '../test/helpers/api';
import { dockerfileApp } from '../test/helpers/archives';
import { startSlipway, type Slipway } from '../test/helpers/slipway';
import { startTwoNodes, type TwoNodes } from '../test/helpers/two-nodes';
import { median, saveResult, sleep } from './lib';

const rounds = Number(process.argv[2] ?? 3);
const run = promisify(execFile);

async function slipwayDeploy(slipway: Slipway, app: string, version: string): Promise<number> {
  const began = performance.now();
  const res = await upload(slipway.url, await dockerfileApp(app, version), `${app}.tgz`, { app, version });
  const done = await waitForDeploy(slipway.url, res.body.deploy.id, 300_000);
  if (done.status !== 'succeeded') throw new Error(`${app} ${version}: ${done.status} ${done.error?.message ?? ''}`);
  return performance.now() - began;
}

/**
 * The docker CLI logged in to the test's registry, in a config dir of its own (the user's ~/.docker is
 * left alone); services get the login with `--with-registry-auth`, as Slipway passes its own.
 */
async function rawCli(nodes: TwoNodes) {
  const config = await mkdtemp(path.join(tmpdir(), 'slipway-bench-docker-config-'));
  const env = { ...process.env, DOCKER_CONFIG: config };
  const login = execFile('docker', ['login', '-u', nodes.registryAuth.username, '--password-stdin', nodes.registry], { env });
  login.stdin!.end(nodes.registryAuth.password);
  await new Promise<void>((resolve, reject) => login.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker login exited ${code}`)))));
  return {
    docker: (args: string[]) => run('docker', args, { env }),
    cleanup: () => rm(config, { recursive: true, force: true }),
  };
}

async function rawDeploy(cli: Awaited<ReturnType<typeof rawCli>>, registry: string, version: string, previous: string | null): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-bench-swarm-'));
  try {
    await writeFile(path.join(dir, 'Dockerfile'), `FROM node:20-slim\nRUN echo building raw ${version} && sleep 0\nCOPY server.js /srv/server.js\nCMD ["node", "/srv/server.js"]\n`);
    await writeFile(path.join(dir, 'server.js'), `require('http').createServer((q, s) => s.end('raw ${version}')).listen(process.env.PORT || 3000)`);
    const image = `${registry}/slipway-bench-raw:${version}`;
    const name = `slipway-bench-raw-${version.replaceAll('.', '-')}`;
    const began = performance.now();
    await cli.docker(['build', '-q', '-t', image, dir]);
    await cli.docker(['push', '-q', image]);
    await cli.docker(['service', 'create', '--detach', '-q', '--with-registry-auth', '--name', name, '--replicas', '2', '--placement-pref', 'spread=node.id', '--publish', 'mode=host,target=3000', '--env', 'PORT=3000', image]);
    // Until both tasks run (`--detach=false` would also wait out the CLI's 5 s stability check).
    while ((await cli.docker(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}'])).stdout.trim() !== '2/2') await sleep(100);
    if (previous) await cli.docker(['service', 'rm', previous]);
    return performance.now() - began;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const nodes = await startTwoNodes();
  const registry = { SLIPWAY_REGISTRY: nodes.registry, SLIPWAY_REGISTRY_USER: nodes.registryAuth.username, SLIPWAY_REGISTRY_PASSWORD: nodes.registryAuth.password };
  const swarm = await startSlipway({ env: { SLIPWAY_ORCHESTRATOR: 'swarm', ...registry, SLIPWAY_LOG_LEVEL: 'warn' } });
  const docker = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  const cli = await rawCli(nodes);
  try {
    for (const s of [swarm, docker]) await call(s.url, 'PUT', '/api/apps/bench', { instances: 2 });
    const times: Record<'swarm' | 'docker' | 'raw', number[]> = { swarm: [], docker: [], raw: [] };
    let previous: string | null = null;
    for (let i = 0; i <= rounds; i++) {
      const version = `1.0.${i}`;
      const [swarmMs, dockerMs] = [await slipwayDeploy(swarm, 'bench', version), await slipwayDeploy(docker, 'bench', version)];
      const rawMs = await rawDeploy(cli, nodes.registry, version, previous);
      previous = `slipway-bench-raw-${version.replaceAll('.', '-')}`;
      // The first round pulls the base layers onto node 2 and fills the registry: a warm-up, not counted.
      if (i === 0) continue;
      times.swarm.push(swarmMs);
      times.docker.push(dockerMs);
      times.raw.push(rawMs);
      console.log(`round ${i}: swarm (2 nodes) ${Math.round(swarmMs)} ms, docker mode (1 node) ${Math.round(dockerMs)} ms, raw docker CLI on the swarm ${Math.round(rawMs)} ms`);
    }
    if (previous) await cli.docker(['service', 'rm', previous]).catch(() => {});
    const result = {
      rounds,
      swarmMs: Math.round(median(times.swarm)),
      dockerModeMs: Math.round(median(times.docker)),
      rawSwarmCliMs: Math.round(median(times.raw)),
      swarmVsDockerMode: Number((median(times.swarm) / median(times.docker)).toFixed(2)),
      swarmVsRawCli: Number((median(times.swarm) / median(times.raw)).toFixed(2)),
    };
    console.log(result);
    await saveResult('swarm', result);
  } finally {
    await swarm.stop();
    await docker.stop();
    await nodes.stop();
    await cli.cleanup();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
