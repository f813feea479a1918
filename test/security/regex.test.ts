/**
 * Searches that cannot stall (issue 12, item 3): a log search's `/regex/` runs in a linear-time engine, so a
 * catastrophic pattern over a line of `a`s answers at once and the API keeps answering everyone else
 * meanwhile; a pattern that engine cannot express is a clear 400, not a silent fallback to backtracking.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '@slipway/contracts/logs';
import { appLogDir } from '@slipway/records/app-logs';
import { authHeaders, call } from '../helpers/api';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
const A48 = 'a'.repeat(48);

/** A GET with its own deadline: a stalled API must fail the test, not hang it. */
async function timed(url: string, timeoutMs: number): Promise<{ status: number; ms: number; body: any }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const started = performance.now();
  try {
    const res = await fetch(url, { headers: authHeaders(url), signal: abort.signal });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - started, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: 0, ms: performance.now() - started, body: null }; // 0: no answer before the deadline
  } finally {
    clearTimeout(timer);
  }
}

const search = (app: string, q: string, timeoutMs = 5000) => timed(`${slipway.url}/api/apps/${app}/logs?tail=50&q=${encodeURIComponent(q)}`, timeoutMs);

/** History written the way the worker writes it (one NDJSON segment), so the test controls every line. */
async function writeHistory(app: string, texts: string[]): Promise<void> {
  const dir = appLogDir(slipway.dataDir, app);
  await mkdir(dir, { recursive: true });
  const base = Date.now() - 60_000;
  const lines = texts.map((text, i): LogLine => ({ ts: new Date(base + i).toISOString().replace('Z', '000000Z'), app, version: '1.0.0', stream: 'stdout', text }));
  await writeFile(path.join(dir, `${String(base).padStart(13, '0')}-regextest.ndjson`), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

interface Stats {
  median: number;
  max: number;
}
const stats = (ms: number[]): Stats => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10, max: Math.round(sorted.at(-1)! * 10) / 10 };
};

beforeAll(async () => {
  slipway = await startSlipway();
  // Registered without a build: the search reads only the history on disk, and no build competes with the timings.
  for (const app of ['victim', 'bystander']) expect((await call(slipway.url, 'PUT', `/api/apps/${app}`, {})).status).toBe(201);
  // Thousands of lines, so one search is long enough to overlap the requests measured beside it.
  await writeHistory('victim', [...Array.from({ length: 5000 }, (_, i) => (i % 2 ? A48 : `request ${i} took ${i % 97} ms`)), 'AAAA upper case']);
  await writeHistory('bystander', Array.from({ length: 5000 }, (_, i) => (i % 100 ? `GET /items/${i} 200` : `error: timeout ${i}`)));
});
afterAll(async () => {
  await slipway?.stop();
});

describe('log search patterns', () => {
  it('still finds text (case-insensitive) and regexes with their flags', async () => {
    const text = await search('victim', 'aaaa');
    expect(text.status).toBe(200);
    expect(text.body.lines.length).toBe(50);
    const anchored = await search('victim', `/^a{48}$/`);
    expect(anchored.status).toBe(200);
    expect(anchored.body.lines.length).toBe(50);
    expect(anchored.body.lines.every((l: LogLine) => l.text === A48)).toBe(true);
    const flagged = await search('victim', '/^AAAA u/i');
    expect(flagged.body.lines.map((l: LogLine) => l.text)).toEqual(['AAAA upper case']);
    const alternation = await search('bystander', '/error: (timeout|refused) \\d+$/');
    expect(alternation.body.lines.length).toBe(50);
  });

  it('refuses what a linear-time engine cannot express, and what is no regex at all, with a clear 400', async () => {
    for (const [q, code] of [
      ['/(a)\\1/', 'unsupported_regex'], // backreference
      ['/a(?=b)/', 'unsupported_regex'], // lookahead
      ['/(?<!x)a/', 'unsupported_regex'], // lookbehind
      ['/(a/', 'invalid_regex'],
      ['/a**/', 'invalid_regex'],
    ] as const) {
      const res = await search('victim', q);
      expect({ q, status: res.status, code: res.body?.error?.code }).toEqual({ q, status: 400, code });
      expect(res.body.error.message, q).toMatch(/q/);
    }
  });
});

/** `/healthz` and the bystander's search, one after the other, `rounds` times: latencies and what did not answer. */
async function probe(rounds: number): Promise<{ health: number[]; other: number[]; failures: string[] }> {
  const health: number[] = [];
  const other: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const h = await timed(`${slipway.url}/healthz`, 3000);
    // 503 is an answer too (a worker's heartbeat late on a loaded machine): what is measured is the API answering.
    if (h.status !== 200 && h.status !== 503) failures.push(`/healthz → ${h.status || 'no answer in 3 s'}`);
    health.push(h.ms);
    const o = await search('bystander', i % 2 ? 'timeout' : '/timeout \\d+/', 3000);
    if (o.status !== 200 || o.body.lines.length !== 50) failures.push(`bystander search → ${o.status || 'no answer in 3 s'}`);
    other.push(o.ms);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { health, other, failures };
}

describe('a catastrophic pattern', () => {
  it('answers promptly while /healthz and another app’s search keep answering within the 100 ms goal', async () => {
    const quiet = await probe(20);
    const attacks: Array<{ status: number; ms: number; lines: number }> = [];
    let measuring = true;
    // Searches back to back for the whole measurement, so a catastrophic one is in flight at every probe.
    const attacker = (async () => {
      while (measuring) {
        const res = await search('victim', '/(a+)+b/', 10_000);
        attacks.push({ status: res.status, ms: res.ms, lines: res.body?.lines?.length ?? -1 });
        if (res.status !== 200) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const busy = await probe(20);
    measuring = false;
    await attacker;

    const [qh, qo, h, o, a] = [quiet.health, quiet.other, busy.health, busy.other, attacks.map((x) => x.ms)].map(stats) as [Stats, Stats, Stats, Stats, Stats];
    console.log(
      `quiet: /healthz median ${qh.median} ms, max ${qh.max} ms; bystander search median ${qo.median} ms, max ${qo.max} ms (20 tries each)\n` +
        `during ${attacks.length} catastrophic searches (each median ${a.median} ms, max ${a.max} ms): ` +
        `/healthz median ${h.median} ms, max ${h.max} ms; bystander search median ${o.median} ms, max ${o.max} ms (20 tries each)`,
    );
    expect([...quiet.failures, ...busy.failures]).toEqual([]);
    expect(attacks.length).toBeGreaterThan(0);
    for (const attack of attacks) expect(attack).toMatchObject({ status: 200, lines: 0 });
    // The goal, < 100 ms, is held by the median on a machine where these requests take a few ms alone (as in
    // CI). Where other work shares the 2 cores and they take longer even alone, the bound is twice that: what
    // sharing one thread with one ordinary search costs, so it still fails on any stall. The max gets a
    // second's room over the quiet max, for noise, and still sits far below the stall this replaces.
    expect(h.median).toBeLessThan(Math.max(100, 2 * qh.median));
    expect(o.median).toBeLessThan(Math.max(100, 2 * qo.median));
    expect(h.max).toBeLessThan(qh.max + 1000);
    expect(o.max).toBeLessThan(qo.max + 1000);
    expect(a.max).toBeLessThan(5000);
  });
});
