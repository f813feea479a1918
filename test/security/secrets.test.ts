/**
 * Secrets in settings and webhooks (issue 12, item 6): env values masked by value as well as by name, and
 * a masked form sent back never overwrites them; webhook URLs (they often carry a token) shown whole only
 * to admins and never written to Slipway's own log with their query or userinfo; webhooks refused on
 * loopback, private and link-local targets, as written (400) and after resolving a name (send time).
 */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInternalAddress } from '@slipway/runtime/webhook-target';
import { call, upload, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { startSlipway, type Slipway } from '../helpers/slipway';

const MASK = '••••••••';
const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----';
const SECRET_ENV = {
  DB_PASS: 'pw-db-pass-1',
  POSTGRES_URL: 'postgres://shop:pw-postgres-2@db:5432/shop',
  AMQP_URL: 'amqp://guest:pw-amqp-3@rabbit:5672/',
  GITHUB_PAT: 'ghp_pwGithubPat4xxxxxxxxxxxxxxxxxxxxxxxx',
  DEPLOY_KEY_PEM: PEM,
  SOME_VALUE: 'Zq8vN3xK2mP7wR4tY6uB1cE5hJ9sL0aD',
};
const CLEAR_ENV = { NODE_ENV: 'production', PORT: '3000', LOG_LEVEL: 'debug', API_BASE: 'https://api.example.com/v1' };
const GLOBAL_HOOK = 'https://hookuser:pw-global-userinfo@hooks.invalid/deliver?token=pw-global-query';

let slipway: Slipway;
let readToken = '';
const received: string[] = [];
const receiver = createServer((req, res) => {
  received.push(req.url ?? '');
  req.resume();
  res.end('ok');
});
const as = (token: string, method: string, path: string, body?: unknown) =>
  fetch(`${slipway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

// Setup waits for a whole Slipway on a shared 2-core machine: more than the default hook time.
beforeAll(async () => {
  // On every interface, so a webhook that got through to this machine's name would be received.
  await new Promise<void>((resolve) => receiver.listen(0, '0.0.0.0', resolve));
  slipway = await startSlipway({ env: { SLIPWAY_WEBHOOK_URLS: GLOBAL_HOOK } });
  await call(slipway.url, 'POST', '/api/users', { name: 'viewer', role: 'read', password: 'viewer-password-123' });
  readToken = (await call(slipway.url, 'POST', '/api/tokens', { name: 'view', scope: 'read', user: 'viewer' })).body.token;
  expect(readToken).toMatch(/^slw_/);
}, 400_000);
afterAll(async () => {
  receiver.close();
  await slipway?.stop();
});

describe('env secrets', () => {
  it('masks secrets by name and by value, leaves plain values in clear, and keeps them when the mask comes back', async () => {
    const res = await call(slipway.url, 'PUT', '/api/apps/vault', { env: { ...SECRET_ENV, ...CLEAR_ENV } });
    expect(res.status).toBe(201);
    const masked = Object.fromEntries(Object.keys(SECRET_ENV).map((k) => [k, MASK]));
    expect(res.body.app.settings.env).toEqual({ ...masked, ...CLEAR_ENV });
    const shown = (await as(readToken, 'GET', '/api/apps/vault')).body.app.settings.env;
    expect(shown).toEqual({ ...masked, ...CLEAR_ENV });

    // The panel sends what it was shown, with one value changed: the secrets must survive as they were.
    expect((await call(slipway.url, 'PUT', '/api/apps/vault', { env: { ...shown, LOG_LEVEL: 'info' } })).status).toBe(200);
    const redis = new Redis(slipway.redisUrl);
    const stored = JSON.parse((await redis.get('slipway:app:vault:settings')) ?? '{}');
    await redis.quit();
    expect(stored.env).toEqual({ ...SECRET_ENV, ...CLEAR_ENV, LOG_LEVEL: 'info' });

    // A mask where nothing is stored is refused, not saved as bullets.
    const blind = await call(slipway.url, 'PUT', '/api/apps/vault', { env: { ...shown, NEW_TOKEN: MASK } });
    expect(blind.status).toBe(400);
    expect(blind.body.error.message).toContain('NEW_TOKEN');

    const log = await readFile(slipway.logFile, 'utf8');
    for (const secret of ['pw-db-pass-1', 'pw-postgres-2', 'pw-amqp-3', 'pwGithubPat4', 'b3BlbnNzaC1rZXk', 'Zq8vN3xK2mP7']) expect(log).not.toContain(secret);
  });
});

describe('webhook URLs', () => {
  const hooks = ['https://user:pw-app-userinfo@hooks.example.com/in?token=pw-app-query', 'https://hooks.slack.com/services/T0000/B0000/Xy7Qk2LmN9pR4sTvW8zA3bCd'];

  it('shows them whole to admins only', async () => {
    expect((await call(slipway.url, 'PUT', '/api/apps/vault', { webhooks: hooks })).body.app.settings.webhooks).toEqual(hooks);
    expect((await call(slipway.url, 'GET', '/api/apps/vault')).body.app.settings.webhooks).toEqual(hooks);
    const shown = (await as(readToken, 'GET', '/api/apps/vault')).body.app.settings.webhooks;
    expect(shown).toEqual([`https://hooks.example.com/in?${MASK}`, `https://hooks.slack.com/services/T0000/B0000/${MASK}`]);
  });

  it('never writes their query or userinfo to the log, even when deliveries fail', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'vault', version: '1.0.0' }), 'vault.tgz');
    // Succeeded or failed, a finished deploy fires the webhooks.
    expect(['succeeded', 'failed']).toContain((await waitForDeploy(slipway.url, res.body.deploy.id)).status);
    let log = '';
    // hooks.invalid and hooks.example.com cannot be reached here: each delivery fails and is logged (debug).
    for (let i = 0; i < 100 && (log.match(/webhook (failed|gave up)/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      log = await readFile(slipway.logFile, 'utf8');
    }
    expect((log.match(/webhook (failed|gave up)/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(log).toContain('hooks.invalid/deliver');
    for (const secret of ['pw-global-userinfo', 'pw-global-query', 'pw-app-userinfo', 'pw-app-query', 'Xy7Qk2LmN9pR4sTvW8zA3bCd']) expect(log).not.toContain(secret);
  });
});

describe('webhook targets', () => {
  it('refuses loopback, private and link-local targets as written', async () => {
    const port = (receiver.address() as AddressInfo).port;
    for (const url of [`http://127.0.0.1:${port}/hook`, 'http://localhost/x', 'http://[::1]/x', 'http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://172.20.0.1/x', 'http://169.254.169.254/latest', 'http://0.0.0.0/x', 'http://[fd00::1]/x', 'http://2130706433/x']) {
      const res = await call(slipway.url, 'PUT', '/api/apps/vault', { webhooks: [url] });
      expect({ url, status: res.status, code: res.body.error?.code }).toEqual({ url, status: 400, code: 'webhook_target_refused' });
    }
    expect((await call(slipway.url, 'GET', '/api/apps/vault')).body.app.settings.webhooks).toHaveLength(2);
  });

  it('refuses at send time a name that resolves to this machine, and does not retry it', async () => {
    const name = hostname();
    const { address } = await lookup(name);
    expect(isInternalAddress(address)).toBe(true); // the premise: this machine's name resolves to itself
    const url = `http://${name}:${(receiver.address() as AddressInfo).port}/rebound`;
    expect((await call(slipway.url, 'PUT', '/api/apps/vault', { webhooks: [url] })).status).toBe(200);
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'vault', version: '2.0.0' }), 'vault.tgz');
    // Succeeded or failed, a finished deploy fires the webhooks.
    expect(['succeeded', 'failed']).toContain((await waitForDeploy(slipway.url, res.body.deploy.id)).status);

    const connection = new Redis(slipway.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('slipway-webhooks', { connection });
    let job;
    for (let i = 0; i < 100 && !job; i++) {
      job = (await queue.getJobs(['failed'])).find((j) => j.data.url === url);
      if (!job) await new Promise((r) => setTimeout(r, 100));
    }
    await queue.close();
    await connection.quit();
    expect(received.filter((u) => u === '/rebound')).toEqual([]);
    expect(job?.failedReason).toMatch(/resolves to .*(loopback|private)/);
    expect(job?.attemptsMade).toBe(1);
  });
});
