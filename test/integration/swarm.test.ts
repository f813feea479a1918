/**
 * Swarm mode on a real single-node swarm (issue 8): an app becomes a service `slipway_<app>` updated
 * start-first with rollback on failure; deploy, update, rollback (no rebuild) and removal; logs from the
 * tasks. The engine is left as it was found: a swarm this test started is left again.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway, waitForDeploy } from '../helpers/api';
import { fixtureEntries, fixtureTgz, tarOf } from '../helpers/archives';
import { docker, startSlipway, type Slipway } from '../helpers/slipway';

const run = promisify(execFile);
let slipway: Slipway;
let startedSwarm = false;
const answer = async () => (await viaGateway(slipway.gatewayUrl, 'swarmed.localhost')).text.trim();
const service = () => docker.getService('slipway_swarmed').inspect();

beforeAll(async () => {
  const info = await docker.info();
  if (info.Swarm?.LocalNodeState !== 'active') {
    await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    startedSwarm = true;
  }
  // No IPVS in this kernel, so no routing mesh: publish on the node itself (see ENVIRONMENT.md).
  slipway = await startSlipway({ env: { SLIPWAY_ORCHESTRATOR: 'swarm', SLIPWAY_SWARM_PUBLISH_MODE: 'host', SLIPWAY_HEALTH_TIMEOUT_S: '30' } });
});
afterAll(async () => {
  await docker.getService('slipway_swarmed').remove().catch(() => {});
  await slipway?.stop();
  if (startedSwarm) {
    await run('docker', ['swarm', 'leave', '--force']).catch(() => {});
    // `swarm leave` leaves this network behind.
    await docker.getNetwork('docker_gwbridge').remove().catch(() => {});
  }
});

describe('swarm mode', () => {
  it('deploys an app as a service updated start-first with rollback on failure', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'swarmed', version: '1.0.0' }), 'swarmed.tgz');
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('succeeded');
    expect(await answer()).toBe('swarmed 1.0.0');

    const spec = (await service()).Spec!;
    expect(spec.UpdateConfig).toMatchObject({ Order: 'start-first', FailureAction: 'rollback' });
    expect(spec.TaskTemplate?.ContainerSpec?.Image).toBe(`${slipway.prefix}swarmed:1.0.0`);
    expect((spec.TaskTemplate?.ContainerSpec as { Healthcheck?: { Test?: string[] } }).Healthcheck?.Test?.[0]).toBe('CMD-SHELL');
    expect(spec.Labels).toMatchObject({ 'io.slipway.app': 'swarmed', 'io.slipway.version': '1.0.0', 'io.slipway.instance': slipway.instance });
  });

  it("hardens the service's tasks as docker mode hardens containers (issue 12)", async () => {
    const spec = (await service()).Spec!;
    const container = spec.TaskTemplate?.ContainerSpec as Record<string, unknown>;
    expect(container).toMatchObject({ Init: true, CapabilityDrop: ['ALL'], CapabilityAdd: ['CAP_NET_BIND_SERVICE'] });
    expect(spec.TaskTemplate?.Resources?.Limits).toMatchObject({ NanoCPUs: 1e9, MemoryBytes: 512 * 1024 * 1024, Pids: 256 });
    expect(spec.EndpointSpec?.Ports).toEqual([expect.objectContaining({ PublishMode: 'host', TargetPort: 3000 })]);

    // What the engine really gave the running task's container.
    const [task] = await docker.listContainers({ filters: { label: ['com.docker.swarm.service.name=slipway_swarmed'] } });
    const info = await docker.getContainer(task!.Id).inspect();
    expect(info.HostConfig).toMatchObject({ CapDrop: ['ALL'], CapAdd: ['CAP_NET_BIND_SERVICE'], Memory: 512 * 1024 * 1024, NanoCpus: 1e9, PidsLimit: 256, Init: true, Privileged: false });
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    console.log('task networks', Object.keys(info.NetworkSettings.Networks ?? {}));
    const apiVersion = (await docker.version()).ApiVersion;
    const [major, minor] = apiVersion.split('.').map(Number);
    // no-new-privileges for a service exists from API 1.44 (Docker 25); older engines drop it (docs/swarm.md).
    const supported = major! > 1 || minor! >= 44;
    const noNewPrivileges = (info.HostConfig.SecurityOpt ?? []).some((o: string) => o.startsWith('no-new-privileges'));
    expect({ apiVersion, noNewPrivileges }).toEqual({ apiVersion, noNewPrivileges: supported });
  });

  it('updates the service to a new version', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'swarmed', version: '2.0.0' }), 'swarmed.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect(await answer()).toBe('swarmed 2.0.0');
    expect((await service()).Spec?.TaskTemplate?.ContainerSpec?.Image).toBe(`${slipway.prefix}swarmed:2.0.0`);
  });

  it('keeps the running version when the new one fails (swarm rolls the update back)', async () => {
    const crash = await tarOf(await fixtureEntries('crash'));
    const res = await upload(slipway.url, crash, 'crash.tgz', { app: 'swarmed', version: '3.0.0' });
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('unhealthy');
    expect(await answer()).toBe('swarmed 2.0.0');
    expect((await call(slipway.url, 'GET', '/api/apps/swarmed')).body.app.current.version).toBe('2.0.0');
  });

  it('rolls back to a kept tag without a rebuild', async () => {
    const res = await call(slipway.url, 'POST', '/api/apps/swarmed/rollback', { version: '1.0.0' });
    expect(res.status).toBe(202);
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect(await answer()).toBe('swarmed 1.0.0');
    expect((await service()).Spec?.TaskTemplate?.ContainerSpec?.Image).toBe(`${slipway.prefix}swarmed:1.0.0`);
  });

  it('collects logs from the service\'s tasks', async () => {
    let lines: Array<{ text: string; version: string }> = [];
    for (let i = 0; i < 50 && !lines.some((l) => l.version === '1.0.0'); i++) {
      lines = (await call(slipway.url, 'GET', '/api/apps/swarmed/logs?q=listening')).body.lines;
      if (!lines.length) await new Promise((r) => setTimeout(r, 200));
    }
    expect(lines.map((l) => l.text)).toEqual(expect.arrayContaining(['swarmed 1.0.0 listening on 3000', 'swarmed 2.0.0 listening on 3000']));
  });

  it('stops, starts and removes the service', async () => {
    expect((await call(slipway.url, 'POST', '/api/apps/swarmed/stop')).status).toBe(200);
    expect((await service()).Spec?.Mode?.Replicated?.Replicas).toBe(0);
    expect((await viaGateway(slipway.gatewayUrl, 'swarmed.localhost')).status).toBe(503);
    expect((await call(slipway.url, 'POST', '/api/apps/swarmed/start')).status).toBe(200);
    expect(await answer()).toBe('swarmed 1.0.0');
    expect((await call(slipway.url, 'DELETE', '/api/apps/swarmed?confirm=swarmed')).status).toBe(200);
    await expect(service()).rejects.toThrow();
  });
});
