/**
 * What a static site's image runs (issue 15): nginx from the SLIPWAY_SITE_IMAGE, with Slipway's own
 * configuration (templates/site-nginx.conf: the single-page fallback, 404s, cache headers, gzip, access
 * lines), sent in the build context as `.slipway/site/nginx.conf`. nginx rather than a Node server: about
 * a fifth of the memory and several times the requests per second (docs/benchmarks.md, "Static sites").
 */
import { readFile } from 'node:fs/promises';
import { installPath } from '@slipway/runtime/install-root';

const SITE_CONFIG = installPath('templates', 'site-nginx.conf');

export interface ContextFile {
  name: string;
  content: Buffer | string;
  mode?: number;
}

export async function siteServerFiles(): Promise<ContextFile[]> {
  return [{ name: '.slipway/site/nginx.conf', content: await readFile(SITE_CONFIG) }];
}

/** The line the template's last build step prints: the folder it serves and how many files it holds. */
export function siteLine(line: string): { dir: string; files: number } | null {
  const m = /^slipway-site: (\S+) (\d+)$/.exec(line.trim());
  return m ? { dir: m[1]!, files: Number(m[2]) } : null;
}
