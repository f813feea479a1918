/**
 * Fault 4 (issue 9): dockerd restarted while one app builds and two apps run. The build ends (failed with
 * the engine's reason, or retried once and done), never waiting out its timeout; the running apps come
 * back by their restart policy on the same ports, the gateway reaches them, and the log history holds
 * every line Docker holds for them, once: none lost while the engine was away, none repeated on reattach.
 *
 * Redis runs as a host process here: a Redis container would go down with the engine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LogLine } from '@slipway/contracts/logs';
import { normalizeTs } from '@slipway/records/app-logs';
import { call, upload, viaGateway, waitForDeploy, waitForStage } from '../helpers/api';
import { fixtureEntries, steadyApp, tarOf } from '../helpers/archives';
import { hostRedis, restartDockerd } from '../helpers/host';
import { containersOf, docker, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let redis: Awaited<ReturnType<typeof hostRedis>>;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${JSON.stringify(value)?.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What Docker itself holds of a container's output, `ts stream text` per line, up to the time both streams
 * have reached when read (they are read one after the other).
 */
async function dockerLines(id: string): Promise<{ lines: string[]; cutoff: string }> {
  const out: string[] = [];
  const last: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const raw = (await docker.getContainer(id).logs({ [stream]: true, timestamps: true, follow: false })) as unknown as Buffer;
    // Multiplexed frames: 8-byte header (stream type, 3 zero bytes, big-endian length), then the payload.
    let text = '';
    for (let at = 0; at + 8 <= raw.length; at += 8 + raw.readUInt32BE(at + 4)) text += raw.subarray(at + 8, at + 8 + raw.readUInt32BE(at + 4)).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const space = line.indexOf(' ');
      out.push(`${normalizeTs(line.slice(0, space))} ${stream} ${line.slice(space + 1)}`);
    }
    last.push(out.at(-1)!.split(' ')[0]!);
  }
  const cutoff = last.sort()[0]!;
  return { lines: out.filter((l) => l.split(' ')[0]! <= cutoff).sort(), cutoff };
}

async function history(app: string): Promise<LogLine[]> {
  const { status, body } = await call<{ lines: LogLine[] }>(slipway.url, 'GET', `/api/apps/${app}/logs?tail=10000`);
  if (status !== 200) throw new Error(`logs: ${status}`);
  return body.lines;
}

beforeAll(async () => {
  redis = await hostRedis();
  slipway = await startSlipway({ redisUrl: redis.url, env: { SLIPWAY_WATCH_S: '0', SLIPWAY_BUILD_TIMEOUT_S: '300' } });
  for (const archive of [await steadyApp('1.0.0'), await tarOf(await fixtureEntries('chatty'))]) {
    const res = await upload(slipway.url, archive, 'app.tgz');
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
  }
});
afterAll(async () => {
  await slipway?.stop();
  await redis?.stop();
});

it('survives a restart of dockerd during a build and while apps run', async () => {
  const chatty = (await containersOf(slipway.prefix)).find((c) => c.labels['io.slipway.app'] === 'chatty')!;
  await until(() => history('chatty'), (l) => l.length > 100);

  const building = await upload(slipway.url, await steadyApp('2.0.0', { buildSleepS: 15 }), 'steady.tgz');
  expect(await waitForStage(slipway.url, building.body.deploy.id, 'build')).toBe('build');
  await new Promise((r) => setTimeout(r, 1000));
  await restartDockerd();

  // The build ended as the engine's failure, not the app's, and not on its 300 s timeout: retried once
  // when the engine was back (or failed as engine_error if it could not be).
  const done = await waitForDeploy(slipway.url, building.body.deploy.id, 240_000);
  if (done.status === 'failed') expect(done.error?.code).toBe('engine_error');
  else expect(done.attempts).toBe(2);

  // Both apps are back, on their ports, through the gateway.
  const steadyNow = (await call(slipway.url, 'GET', '/api/apps/steady')).body.app.current.version;
  expect(steadyNow).toBe(done.status === 'succeeded' ? '2.0.0' : '1.0.0');
  await until(() => viaGateway(slipway.gatewayUrl, 'steady.localhost'), (r) => r.status === 200 && r.text === `steady ${steadyNow}\n`);
  await until(() => viaGateway(slipway.gatewayUrl, 'chatty.localhost'), (r) => r.status === 200);
  const ours = await containersOf(slipway.prefix);
  expect(ours.map((c) => `${c.labels['io.slipway.app']} ${c.state}`).sort()).toEqual(['chatty running', 'steady running']);
  expect(ours.find((c) => c.labels['io.slipway.app'] === 'chatty')!.id).toBe(chatty.id);

  // The log history holds exactly what Docker holds, up to a point both have seen: the app's first run
  // and its run after the restart (its counter started again at 1), no line missing or doubled.
  await until(() => history('chatty'), (l) => l.filter((x) => x.text.startsWith('seq=50 ')).length >= 2);
  const { lines: held, cutoff } = await dockerLines(chatty.id);
  const kept = await until(() => history('chatty'), (l) => l.some((x) => x.ts > cutoff));
  const ourLines = kept
    .filter((l) => (l.stream === 'stdout' || l.stream === 'stderr') && l.ts <= cutoff)
    .map((l) => `${l.ts} ${l.stream} ${l.text}`)
    .sort();
  expect(held.filter((l) => l.includes(' seq=1 ')).length).toBe(2);
  expect(ourLines.length).toBe(held.length);
  expect(ourLines).toEqual(held);

  // The worker lived through it and deploys again.
  expect(slipway.worker.exitCode).toBeNull();
  const next = await upload(slipway.url, await steadyApp('3.0.0'), 'steady.tgz');
  expect((await waitForDeploy(slipway.url, next.body.deploy.id)).status).toBe('succeeded');
});
