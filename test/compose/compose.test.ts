/**
 * compose.yaml for real (issue 13): the image builds (panel included) on the offline base images, `up`
 * brings Redis, api, worker and gateway to healthy, the services run as the image's user, the admin token
 * printed in the api's log sets up the panel in Chromium, an app deploys through the API and answers
 * through the gateway, the panel lists it, and `down` takes it all away again.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '@slipway/runtime/config';
import { adoptAdminToken } from '../helpers/admin';
import { authHeaders, call, upload, viaGateway, viaHttps, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { launch, shoot } from '../helpers/browser';
import { docker, removeOwned, removeOwnedNetworks } from '../helpers/slipway';

const run = promisify(execFile);
const SERVICES = ['api', 'worker', 'gateway'] as const;
const PASSWORD = 'compose-password-123';

const project = `slipwaytest${randomBytes(3).toString('hex')}`;
const prefix = `${project}/`;
let home: string;
let env: NodeJS.ProcessEnv;
let url: string;
let gatewayUrl: string;
let httpsPort: number;
let browser: Browser | undefined;
let page: Page;

function compose(...args: string[]) {
  return run('docker-compose', ['-f', 'compose.yaml', '-p', project, ...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: 25 * 60_000 });
}

async function containerOf(service: string): Promise<string> {
  return (await compose('ps', '-q', service)).stdout.trim();
}

async function health(service: string): Promise<string> {
  const info = await docker.getContainer(await containerOf(service)).inspect();
  return info.State.Health?.Status ?? 'none';
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'slipway-compose-'));
  const [port, gatewayPort, redisPort] = [await getPort(), await getPort(), await getPort()];
  httpsPort = await getPort();
  env = {
    ...process.env,
    SLIPWAY_HOME: home,
    SLIPWAY_PORT: String(port),
    SLIPWAY_GATEWAY_PORT: String(gatewayPort),
    SLIPWAY_REDIS_PORT: String(redisPort),
    // HTTPS from the internal CA: the gateway, as uid 1000, keeps its keys in the data dir's tls folder.
    SLIPWAY_TLS: 'internal',
    SLIPWAY_HTTPS_PORT: String(httpsPort),
    SLIPWAY_IMAGE_PREFIX: prefix,
    SLIPWAY_IMAGE: `slipway:${project}`,
  };
  url = `http://127.0.0.1:${port}`;
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  await writeFile(path.join(home, '.keep'), '');
  // The build log goes to a file: the image's npm ci and panel build print a lot.
  const built = await compose('build');
  await writeFile(path.join(tmpdir(), `${project}-build.log`), built.stdout + built.stderr);
  await compose('up', '-d');
}, 30 * 60_000);

afterAll(async () => {
  await browser?.close();
  const logs = await compose('logs', '--no-color').catch(() => ({ stdout: '' }));
  await writeFile(path.join(tmpdir(), `${project}-up.log`), logs.stdout);
  await compose('down', '-v', '--remove-orphans').catch(() => {});
  await removeOwned(prefix);
  // The image this run built; its build stage stays behind as the next build's cache.
  await docker.getImage(`slipway:${project}`).remove().catch(() => {});
  await removeOwnedNetworks(loadSettings({ SLIPWAY_DATA_DIR: '/var/lib/slipway', SLIPWAY_IMAGE_PREFIX: prefix }).instance);
  if (!process.env.SLIPWAY_TEST_KEEP) await rm(home, { recursive: true, force: true });
}, 5 * 60_000);

describe('docker compose up', () => {
  it('brings every service to healthy, running as the image\'s user, not root', async () => {
    for (const service of SERVICES) {
      expect(await until(() => health(service), (s) => s === 'healthy', 180_000), service).toBe('healthy');
    }
    for (const service of SERVICES) {
      const id = await containerOf(service);
      const status = (await run('docker', ['exec', id, 'cat', '/proc/1/status'])).stdout;
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1], service).toBe('1000');
      // PID 1 is Slipway itself (the entrypoint's shell exec'd into it), so signals reach it.
      expect((await run('docker', ['exec', id, 'cat', '/proc/1/cmdline'])).stdout.split('\0').slice(0, 2), service).toEqual(['node', 'dist/slipway.js']);
    }
    // Only the worker holds the socket, and only it joined the socket's group.
    const socketGroup = String((await run('stat', ['-c', '%g', '/var/run/docker.sock'])).stdout.trim());
    const groups = async (service: string) => /^Groups:\s*(.*)$/m.exec((await run('docker', ['exec', await containerOf(service), 'cat', '/proc/1/status'])).stdout)?.[1]?.trim().split(/\s+/) ?? [];
    expect(await groups('worker')).toContain(socketGroup);
    expect(await groups('api')).not.toContain(socketGroup);
  });

  it('serves the panel, set up with the token printed in the api\'s log', async () => {
    const logs = (await compose('logs', '--no-color', 'api')).stdout;
    const token = /\b(slw_[A-Za-z0-9_-]{20,})\b/.exec(logs)?.[1];
    expect(token, 'the first-start token in the api log').toBeTruthy();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${url}/`);
    await page.waitForURL('**/login');
    await page.getByLabel('Admin token').fill(token!);
    await page.getByLabel(/New admin password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.waitForURL(`${url}/`);
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard' }).isVisible()).toBe(true);
    await adoptAdminToken(url, PASSWORD);
  });

  it('deploys an app that answers through the gateway and shows in the panel', async () => {
    const res = await upload(url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
    expect(res.status).toBe(202);
    expect(await waitForDeploy(url, res.body.deploy.id)).toMatchObject({ status: 'succeeded' });
    expect((await viaGateway(gatewayUrl, 'hello.localhost')).text.trim()).toBe('hello 1.0.0');
    const ca = await (await fetch(`${url}/api/tls/ca.pem`, { headers: authHeaders(url) })).text();
    await expect.poll(async () => (await call(url, 'GET', '/api/apps/hello/certificates')).body.certificates[0]?.state).toBe('valid');
    const secure = await viaHttps(httpsPort, 'hello.localhost', ca);
    expect(`${secure.status} ${secure.text.trim()} ${secure.cert.subjectaltname}`).toBe('200 hello 1.0.0 DNS:hello.localhost');
    expect((await stat(path.join(home, 'tls', 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    await page.goto(`${url}/apps`);
    await expect.poll(() => page.locator('tr[data-app=hello]').count()).toBeGreaterThan(0);
    expect(await page.locator('tr[data-app=hello]').first().textContent()).toContain('1.0.0');
    await shoot(page, 'compose-apps');
  });

  it('stops within its grace period and leaves the deployed app running', async () => {
    await compose('stop');
    for (const service of SERVICES) {
      const info = await docker.getContainer(await containerOf(service)).inspect();
      // SIGTERM handled: a clean exit, not the SIGKILL (137) that ends the grace period.
      expect(info.State.ExitCode, service).toBe(0);
    }
    const apps = await docker.listContainers({ filters: { label: [`io.slipway.app=hello`] } });
    expect(apps.some((c) => c.Image.startsWith(prefix))).toBe(true);
  });
});
