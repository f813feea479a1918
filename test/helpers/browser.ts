/** Debian's Chromium driven by playwright-core (no browser download), with the flags this network needs. */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  // Headless pages count as hidden: keep timers and animation frames running at full rate.
  '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
];

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Screenshots go to test-results/screenshots; with SLIPWAY_UPDATE_SCREENSHOTS=1 also to docs/screenshots. */
export async function shoot(page: Page, name: string, fullPage = true): Promise<void> {
  const dirs = ['test-results/screenshots', ...(process.env.SLIPWAY_UPDATE_SCREENSHOTS ? ['docs/screenshots'] : [])];
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage });
  }
}

/** The texts of the cells laid out on more than one line box: broken inside a word (issue 18: "unlimi / te / d"). */
export function brokenCells(cells: Locator): Promise<Array<string | null>> {
  return cells.evaluateAll((tds) => {
    const doc = (globalThis as unknown as { document: { createRange(): { selectNodeContents(n: unknown): void; getClientRects(): Iterable<{ top: number }> } } }).document;
    return tds
      .filter((td) => {
        const range = doc.createRange();
        range.selectNodeContents(td);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
      })
      .map((td) => td.textContent);
  });
}
