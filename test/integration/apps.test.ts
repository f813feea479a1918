/**
 * App settings and lifecycle (issue 4): register before the first upload, env with secrets masked,
 * restart to apply, stop/start, delete only what belongs to the app; notifications on /api/events;
 * signed webhooks that never hold a deploy up.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, followSse, get, upload, viaGateway as gatewayGet, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { containersOf, docker, imageExists, startSlipway, type Slipway } from '../helpers/slipway';

const SECRET = 'test-webhook-secret';
let slipway: Slipway;
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    res.end('ok');
  });
});

const viaGateway = async (host: string) => {
  const res = await gatewayGet(slipway.gatewayUrl, host);
  return { status: res.status, text: res.text.trim() };
};

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  // The receiver is on loopback: private webhook targets are refused unless allowed (issue 12).
  slipway = await startSlipway({ env: { SLIPWAY_WEBHOOK_SECRET: SECRET, SLIPWAY_WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(async () => {
  receiver.close();
  await slipway?.stop();
});

describe('settings', () => {
  it('registers an app before its first upload, with defaults', async () => {
    const res = await call(slipway.url, 'PUT', '/api/apps/greeter', {});
    expect(res.status).toBe(201);
    expect(res.body.app).toMatchObject({
      name: 'greeter',
      current: null,
      versions: [],
      settings: { env: {}, healthPath: '/', memoryMb: 512, cpus: 1, logFiles: [], webhooks: [] },
    });
    expect((await call(slipway.url, 'GET', '/api/apps')).body.apps.map((a: { name: string }) => a.name)).toContain('greeter');
  });

  it('validates every field and says which one is wrong', async () => {
    const bad = [
      { env: { '1BAD': 'x' } },
      { env: { OK: 42 } },
      { port: 70000 },
      { healthPath: 'health' },
      { memoryMb: 100000 },
      { cpus: 0 },
      { logFiles: ['relative.log'] },
      { webhooks: ['ftp://example.com'] },
      { privileged: true },
    ];
    for (const patch of bad) {
      const res = await call(slipway.url, 'PUT', '/api/apps/greeter', patch);
      expect(res.status, JSON.stringify(patch)).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(res.body.error.message).toContain(Object.keys(patch)[0]);
    }
    expect((await call(slipway.url, 'PUT', '/api/apps/Bad_Name', {})).status).toBe(422);
    const raw = await fetch(`${slipway.url}/api/apps/greeter`, { method: 'PUT', headers: { ...slipway.auth, 'content-type': 'application/json' }, body: '{"env":' });
    expect(raw.status).toBe(400);
  });

  it('masks secret values in answers and logs, and keeps them when the mask is sent back', async () => {
    const res = await call(slipway.url, 'PUT', '/api/apps/greeter', {
      env: { GREETING: 'bonjour', API_TOKEN: 's3cret-token-value', DATABASE_URL: 'postgres://u:p4ss@db/x' },
      webhooks: [`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`],
    });
    expect(res.status).toBe(200);
    expect(res.body.app.settings.env).toEqual({ GREETING: 'bonjour', API_TOKEN: '••••••••', DATABASE_URL: '••••••••' });
    // The panel sends the masked form back unchanged: the secret must survive it.
    const again = await call(slipway.url, 'PUT', '/api/apps/greeter', { env: res.body.app.settings.env });
    expect(again.status).toBe(200);
    const log = await readFile(slipway.logFile, 'utf8');
    expect(log).not.toContain('s3cret-token-value');
    expect(log).not.toContain('p4ss');
  });

  it('applies settings to the container from the next deploy, and at once with restart', async () => {
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'greeter', version: '1.0.0' }), 'greeter.tgz');
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    expect(done.status).toBe('succeeded');
    expect((await get(`http://127.0.0.1:${done.port}/`)).text.trim()).toBe('greeter 1.0.0 bonjour');
    const env = (await docker.getContainer('slipway-greeter-1.0.0').inspect()).Config.Env;
    expect(env).toEqual(expect.arrayContaining(['GREETING=bonjour', 'API_TOKEN=s3cret-token-value', 'DATABASE_URL=postgres://u:p4ss@db/x']));

    await call(slipway.url, 'PUT', '/api/apps/greeter', { env: { GREETING: 'hello again', API_TOKEN: '••••••••', DATABASE_URL: '••••••••' }, memoryMb: 256 });
    const restart = await call(slipway.url, 'POST', '/api/apps/greeter/restart');
    expect(restart.status).toBe(202);
    expect(restart.body.deploy).toMatchObject({ kind: 'restart', version: '1.0.0' });
    const restarted = await waitForDeploy(slipway.url, restart.body.deploy.id);
    expect(restarted.status).toBe('succeeded');
    expect(await viaGateway('greeter.localhost')).toEqual({ status: 200, text: 'greeter 1.0.0 hello again' });
    const info = await docker.getContainer('slipway-greeter-1.0.0').inspect();
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(info.Config.Env).toContain('API_TOKEN=s3cret-token-value');
    expect((await containersOf(slipway.prefix)).filter((c) => c.labels['io.slipway.app'] === 'greeter')).toHaveLength(1);
  });
});

describe('notifications and webhooks', () => {
  it('sends deploy and app changes on /api/events, and a signed webhook per finished deploy', async () => {
    const events: Array<{ event: string; data: any }> = [];
    const abort = new AbortController();
    const stream = followSse(`${slipway.url}/api/events`, ({ event, data }) => void events.push({ event, data }), abort.signal);
    await new Promise((r) => setTimeout(r, 300));
    received.length = 0;

    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'greeter', version: '2.0.0' }), 'greeter.tgz');
    const done = await waitForDeploy(slipway.url, res.body.deploy.id);
    for (let i = 0; i < 50 && (!received.length || !events.some((e) => e.event === 'app')); i++) await new Promise((r) => setTimeout(r, 100));
    abort.abort();
    await stream;

    const statuses = events.filter((e) => e.event === 'deploy' && e.data.deploy.id === done.id).map((e) => e.data.deploy.status);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    expect(events).toContainEqual({ event: 'app', data: expect.objectContaining({ type: 'app', app: 'greeter', change: 'switched', version: '2.0.0' }) });

    expect(received).toHaveLength(1);
    const hook = received[0]!;
    expect(hook.headers['x-slipway-event']).toBe('deploy.succeeded');
    expect(hook.headers['x-slipway-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(hook.body).digest('hex')}`);
    expect(JSON.parse(hook.body)).toMatchObject({ event: 'deploy.succeeded', deploy: { id: done.id, app: 'greeter', version: '2.0.0' } });
    expect(hook.body).not.toContain('s3cret');
  });

  it('never holds a deploy up when a receiver is down, and keeps retrying it', async () => {
    const dead = `http://127.0.0.1:${await getPort()}/gone`;
    await call(slipway.url, 'PUT', '/api/apps/greeter', { webhooks: [dead] });
    const res = await upload(slipway.url, await fixtureTgz('hello', { name: 'greeter', version: '3.0.0' }), 'greeter.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');

    const connection = new Redis(slipway.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('slipway-webhooks', { connection });
    let retrying = 0;
    for (let i = 0; i < 50 && !retrying; i++) {
      const jobs = await queue.getJobs(['delayed', 'waiting', 'active']);
      retrying = jobs.filter((j) => j.data.url === dead && j.attemptsMade >= 1).length;
      if (!retrying) await new Promise((r) => setTimeout(r, 100));
    }
    await queue.close();
    await connection.quit();
    expect(retrying).toBe(1);
  });
});

describe('lifecycle', () => {
  it('stops and starts the app, the gateway answering 503 meanwhile', async () => {
    const stop = await call(slipway.url, 'POST', '/api/apps/greeter/stop');
    expect(stop.status).toBe(200);
    expect(stop.body.app.current.status).toBe('stopped');
    expect((await viaGateway('greeter.localhost')).status).toBe(503);
    expect((await docker.getContainer('slipway-greeter-3.0.0').inspect()).State.Running).toBe(false);

    const start = await call(slipway.url, 'POST', '/api/apps/greeter/start');
    expect(start.status).toBe(200);
    expect(start.body.app.current.status).toBe('running');
    expect(await viaGateway('greeter.localhost')).toEqual({ status: 200, text: 'greeter 3.0.0 hello again' });
  });

  it('deletes only the app it names, and only when the name is confirmed', async () => {
    const other = await upload(slipway.url, await fixtureTgz('hello', { name: 'keeper', version: '1.0.0' }), 'keeper.tgz');
    expect((await waitForDeploy(slipway.url, other.body.deploy.id)).status).toBe('succeeded');

    const unconfirmed = await call(slipway.url, 'DELETE', '/api/apps/greeter');
    expect(unconfirmed).toMatchObject({ status: 400, body: { error: { code: 'confirmation_required' } } });
    expect((await call(slipway.url, 'DELETE', '/api/apps/greeter?confirm=keeper')).status).toBe(400);

    const res = await call(slipway.url, 'DELETE', '/api/apps/greeter?confirm=greeter');
    expect(res).toMatchObject({ status: 200, body: { deleted: 'greeter' } });
    expect((await call(slipway.url, 'GET', '/api/apps/greeter')).status).toBe(404);
    expect((await containersOf(slipway.prefix)).map((c) => c.name)).toEqual(['slipway-keeper-1.0.0']);
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) expect(await imageExists(`${slipway.prefix}greeter:${v}`)).toBe(false);
    expect(await imageExists(`${slipway.prefix}keeper:1.0.0`)).toBe(true);
    expect((await call(slipway.url, 'GET', '/api/deploys?app=greeter')).body.deploys).toEqual([]);
    // The gateways learn of the deletion over pub/sub, a moment after the answer (503 until then: no container).
    await expect.poll(async () => (await viaGateway('greeter.localhost')).status, { timeout: 10_000 }).toBe(404);
    expect(await viaGateway('keeper.localhost')).toEqual({ status: 200, text: 'keeper 1.0.0' });
  });

  it('answers 409 to stop or start an app with nothing deployed', async () => {
    await call(slipway.url, 'PUT', '/api/apps/empty', {});
    const res = await call(slipway.url, 'POST', '/api/apps/empty/stop');
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'not_running' } } });
    expect((await call(slipway.url, 'POST', '/api/apps/empty/restart')).status).toBe(409);
    expect((await call(slipway.url, 'POST', '/api/apps/empty/rollback', {})).status).toBe(404);
  });
});
