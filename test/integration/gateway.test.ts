/**
 * The gateway (issue 4): stable per-app URLs by Host header, a switch that drops no request during a
 * deploy or a rollback, WebSocket upgrades, traffic counted per app, nothing private on unknown hosts.
 */
import { Agent } from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, viaGateway as gatewayGet, waitForDeploy } from '../helpers/api';
import { fixtureTgz } from '../helpers/archives';
import { docker, loadThroughGateway, startSlipway, type Slipway } from '../helpers/slipway';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { keys } from '@slipway/records/redis';
import { announceRoute } from '@slipway/records/route-announcements';

let slipway: Slipway;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const viaGateway = (host: string, path = '/') => gatewayGet(slipway.gatewayUrl, host, path, agent);

const load = (host: string, clients: number) => loadThroughGateway(slipway.gatewayUrl, host, clients);

beforeAll(async () => {
  slipway = await startSlipway();
  const res = await upload(slipway.url, await fixtureTgz('hello', { version: '1.0.0' }), 'hello.tgz');
  expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
});
afterAll(async () => {
  agent.destroy();
  await slipway?.stop();
});

describe('gateway', () => {
  it('serves an app at <app>.<domain> whatever port its container has', async () => {
    expect(await viaGateway('hello.localhost')).toMatchObject({ status: 200, text: 'hello 1.0.0\n' });
    expect((await viaGateway(`hello.localhost:${new URL(slipway.gatewayUrl).port}`)).status).toBe(200);
    const { body } = await call(slipway.url, 'GET', '/api/apps/hello');
    expect(body.app.current.url).toBe(`http://hello.localhost:${slipway.env.SLIPWAY_GATEWAY_PORT}/`);
  });

  it('answers an unknown host with a plain 404 page that lists nothing', async () => {
    for (const host of ['nope.localhost', 'localhost', 'other.example.com', '../.localhost', '<script>.localhost']) {
      const res = await viaGateway(host);
      expect(res.status).toBe(404);
      expect(res.text).toContain('No app here');
      // Neither the apps it serves nor where they run.
      expect(res.text).not.toContain('hello');
      expect(res.text).not.toMatch(/127\.0\.0\.1|:\d{4,5}|<script>/);
    }
    expect((await viaGateway('hello.example.com')).status).toBe(404);
  });

  it('drops no request while a deploy switches versions', async () => {
    const traffic = load('hello.localhost', 8);
    const res = await upload(slipway.url, await fixtureTgz('hello', { version: '2.0.0' }), 'hello.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 500));
    const { requests, failures, seen } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(100);
    expect(seen.get('hello 1.0.0')).toBeGreaterThan(0);
    expect(seen.get('hello 2.0.0')).toBeGreaterThan(0);
  });

  it('drops no request while a rollback switches back', async () => {
    const traffic = load('hello.localhost', 8);
    const res = await call(slipway.url, 'POST', '/api/apps/hello/rollback', {});
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 500));
    const { failures, seen } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(seen.get('hello 1.0.0')).toBeGreaterThan(0);
  });

  it('lets a slow request finish on the old version during a switch', async () => {
    const slow = viaGateway('hello.localhost', '/slow');
    await new Promise((r) => setTimeout(r, 100));
    const res = await call(slipway.url, 'POST', '/api/apps/hello/rollback', {});
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    expect(await slow).toMatchObject({ status: 200, text: 'hello 1.0.0 slow\n' });
  });

  it('carries WebSocket connections', async () => {
    const ws = new WebSocket(`${slipway.gatewayUrl.replace('http', 'ws')}/ws`, { headers: { host: 'hello.localhost' } });
    const echo = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('ping through the gateway'));
      ws.on('message', (data) => resolve(data.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(echo).toBe('ping through the gateway');
  });

  it('counts requests per app for /api/traffic', async () => {
    for (let i = 0; i < 5; i++) await viaGateway('hello.localhost', '/boom');
    let series: Array<{ app: string; requests: number; errors5xx: number; p50Ms: number; p95Ms: number }> = [];
    for (let i = 0; i < 40 && !series.some((p) => p.errors5xx >= 5); i++) {
      await new Promise((r) => setTimeout(r, 250));
      series = (await call(slipway.url, 'GET', '/api/traffic?range=1h&step=1m')).body.series;
    }
    const hello = series.filter((p) => p.app === 'hello');
    expect(hello.reduce((n, p) => n + p.requests, 0)).toBeGreaterThan(100);
    expect(hello.reduce((n, p) => n + p.errors5xx, 0)).toBe(5);
    expect(hello[0]!.p95Ms).toBeGreaterThanOrEqual(hello[0]!.p50Ms);
    const hourly = (await call(slipway.url, 'GET', '/api/traffic?range=7d&step=1h')).body.series;
    expect(hourly.some((p: { app: string }) => p.app === 'hello')).toBe(true);
    expect((await call(slipway.url, 'GET', '/api/traffic?range=30d')).status).toBe(400);
    expect((await call(slipway.url, 'GET', '/api/traffic?range=soon')).status).toBe(400);
  });

  // After the traffic count: it makes the gateway answer 502 on purpose.
  it('goes straight to the container on its app network, and back to the published port when that address is stale', async () => {
    const redis = new Redis(slipway.redisUrl);
    try {
      const record = await redis.hgetall(keys.app('hello'));
      const networks = (await docker.getContainer(record.containerId!).inspect()).NetworkSettings.Networks;
      expect(Object.keys(networks)).toEqual([`slipway-hello-${slipway.instance}`]);
      expect(record.address).toBe(`${Object.values(networks)[0]!.IPAddress}:3000`);
      const closed = await getPort();
      const announce = (port: number, address: string) => announceRoute(redis, { app: 'hello', version: record.current!, port, address, previousPort: null }, 0);

      const status = async () => (await viaGateway('hello.localhost')).status;
      // Each case starts from a route where neither way answers, so a 200 can only come from the case's own.
      const broken = async () => {
        await announce(closed, `127.0.0.1:${closed}`);
        await expect.poll(status).toBe(502);
      };
      // The published port closed: only the address can answer.
      await broken();
      await announce(closed, record.address!);
      await expect.poll(status).toBe(200);
      // An address where nothing listens any more: the request goes again to the published port, and answers.
      await broken();
      await announce(Number(record.port), `127.0.0.1:${closed}`);
      await expect.poll(status).toBe(200);
      expect(await viaGateway('hello.localhost')).toMatchObject({ status: 200, text: `hello ${record.current}\n` });
    } finally {
      await announceRoute(redis, { app: 'hello', version: (await redis.hget(keys.app('hello'), 'current'))!, port: Number((await redis.hget(keys.app('hello'), 'port'))!), address: await redis.hget(keys.app('hello'), 'address'), previousPort: null }, 0);
      redis.disconnect();
    }
  });
});
