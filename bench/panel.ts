/**
 * bench/panel: the panel's weight (JS and CSS, gzip), the dashboard's first load in Chromium (median of
 * 5, cold cache each time), and whether the log view keeps the page responsive while an app writes
 * 10 000 lines/s (longest gap between animation frames, and long tasks over 100 ms).
 *
 *   npm run build && npx tsx bench/panel.ts
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { call, upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { launch } from '../test/helpers/browser';
import { startSlipway } from '../test/helpers/slipway';
import { median, saveResult, sleep } from './lib';

async function weight(): Promise<{ jsGzipKiB: number; cssGzipKiB: number; files: number }> {
  const dir = 'ui/build/_app/immutable';
  let js = 0;
  let css = 0;
  let files = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const size = gzipSync(await readFile(file)).length;
    if (file.endsWith('.js')) js += size;
    else if (file.endsWith('.css')) css += size;
    files++;
  }
  return { jsGzipKiB: Math.round(js / 102.4) / 10, cssGzipKiB: Math.round(css / 102.4) / 10, files };
}

const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_SAMPLE_S: '1' } });
const browser = await launch();
try {
  const res = await upload(slipway.url, await fixtureTgz('firehose', { version: '1.0.0' }), 'firehose.tgz');
  await waitForDeploy(slipway.url, res.body.deploy.id);
  await call(slipway.url, 'POST', '/api/auth/setup', { token: slipway.token, password: 'bench-password-123' });
  const login = await fetch(`${slipway.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-password-123' }) });
  const sid = /slipway_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
  await sleep(3000); // a few machine samples for the charts

  const loads: Array<{ domContentLoaded: number; load: number; chartsDrawn: number }> = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.addCookies([{ name: 'slipway_session', value: sid, url: slipway.url }]);
    const page = await context.newPage();
    const began = Date.now();
    await page.goto(`${slipway.url}/`);
    await page.waitForSelector('[data-chart=memory] canvas');
    const chartsDrawn = Date.now() - began;
    const nav = (await page.evaluate(
      "(() => { const [e] = performance.getEntriesByType('navigation'); return { domContentLoaded: Math.round(e.domContentLoadedEventEnd), load: Math.round(e.loadEventEnd) }; })()",
    )) as { domContentLoaded: number; load: number };
    loads.push({ ...nav, chartsDrawn });
    await context.close();
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.addCookies([{ name: 'slipway_session', value: sid, url: slipway.url }]);
  const page = await context.newPage();
  // Measured inside the page: the gap between animation frames, and long tasks.
  // A string, not a function: tsx would add helpers (__name) the page does not have.
  await page.addInitScript(`
    window.__frames = []; window.__long = [];
    let last = 0;
    const tick = (t) => { if (last) window.__frames.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    new PerformanceObserver((list) => list.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ entryTypes: ['longtask'] });
  `);
  await page.goto(`${slipway.url}/logs?app=firehose`);
  await page.waitForSelector('[data-pane=left] .line');
  await page.evaluate('window.__frames.length = 0; window.__long.length = 0;');
  await sleep(10_000);
  const { frames, long, shown } = (await page.evaluate(
    "({ frames: window.__frames, long: window.__long, shown: document.querySelectorAll('[data-pane=left] .line').length })",
  )) as { frames: number[]; long: number[]; shown: number };
  const sorted = [...frames].sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    weight: await weight(),
    dashboardFirstLoadMs: {
      domContentLoaded: median(loads.map((l) => l.domContentLoaded)),
      load: median(loads.map((l) => l.load)),
      chartsDrawn: median(loads.map((l) => l.chartsDrawn)),
    },
    logView10kLinesPerSecond: {
      frames: frames.length,
      framesPerSecond: Math.round(frames.length / 10),
      p99FrameMs: Math.round(sorted[Math.floor(0.99 * (sorted.length - 1))] ?? 0),
      maxFrameMs: Math.round(sorted.at(-1) ?? 0),
      longTasksOver100ms: long.filter((d) => d > 100).length,
      longestTaskMs: Math.round(Math.max(0, ...long)),
      linesInPage: shown,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  await saveResult('panel', result);
} finally {
  await browser.close();
  await slipway.stop();
}
process.exit(0);
