/**
 * Compiles Slipway's server (api, worker, gateway and the entry that runs them) into one ES module,
 * dist/slipway.js with its source map (issue 13): `npm start` and compose run it with plain `node`.
 * Slipway's own workspace packages are TypeScript and are bundled; every npm dependency stays in
 * node_modules (native addons like re2 cannot be bundled, and the image installs them anyway).
 * Plain JS: it runs before anything is compiled.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { engines } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));

/** Bare imports are npm packages, left to Node's resolution at run time; `@slipway/*` is ours, bundled. */
const dependenciesExternal = {
  name: 'dependencies-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@slipway/') || args.path.startsWith('node:') ? undefined : { path: args.path, external: true }));
  },
};

await build({
  absWorkingDir: root,
  entryPoints: ['scripts/start.ts'],
  outfile: 'dist/slipway.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${/\d+\.\d+/.exec(engines.node)[0]}`,
  sourcemap: true,
  plugins: [dependenciesExternal],
  logLevel: 'warning',
});
