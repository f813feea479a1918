/**
 * The CLI as it ships: the esbuild bundle (packages/cli/dist/slipway.js). CI builds it before the tests
 * (`npm run build`); a local run of one test file rebuilds it when it is missing or older than its source.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_DIR = fileURLToPath(new URL('../../packages/cli/', import.meta.url));
export const CLI_BUNDLE = path.join(CLI_DIR, 'dist', 'slipway.js');

export function cliBundle(): string {
  const built = statSync(CLI_BUNDLE, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = [path.join(CLI_DIR, 'package.json'), path.join(CLI_DIR, 'build.mjs'), ...readdirSync(path.join(CLI_DIR, 'src')).map((f) => path.join(CLI_DIR, 'src', f))];
  if (sources.some((f) => statSync(f).mtimeMs > built)) {
    execFileSync('npm', ['run', 'build', '--workspace', 'packages/cli'], { cwd: path.join(CLI_DIR, '..', '..'), stdio: 'pipe' });
  }
  return CLI_BUNDLE;
}
