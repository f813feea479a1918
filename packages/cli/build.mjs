/**
 * Bundles the CLI into one file, dist/slipway.js (+ source map), with every dependency inlined so that
 * `npm i -g` of the packed tarball has nothing to fetch (issue 13 item 4). Plain JS: it runs before
 * anything is compiled. Node's built-ins stay external.
 */
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dir = fileURLToPath(new URL('.', import.meta.url));
const { engines } = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
const outfile = path.join(dir, 'dist', 'slipway.js');

const { metafile } = await build({
  absWorkingDir: dir,
  entryPoints: ['src/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${/\d+\.\d+/.exec(engines.node)[0]}`,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  banner: {
    // The inlined CommonJS dependencies (commander, tar-fs, …) call require() for built-ins, which an ES
    // module lacks: give them one.
    js: "#!/usr/bin/env node\nimport { createRequire as __slipwayRequire } from 'node:module';\nconst require = __slipwayRequire(import.meta.url);",
  },
});
// Executable, so the bundle also runs on its own (bin/slipway.js is what npm links).
await chmod(outfile, 0o755);

// The licences of the inlined packages travel with the bundle.
const packages = new Set(Object.keys(metafile.inputs).flatMap((input) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []));
const notices = [];
for (const pkg of [...packages].sort()) {
  const { name, version, license } = JSON.parse(await readFile(path.join(dir, pkg, 'package.json'), 'utf8'));
  const file = (await readdir(path.join(dir, pkg))).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? (await readFile(path.join(dir, pkg, file), 'utf8')).trim() : `(${license}; the package ships no licence file)`;
  notices.push(`${name}@${version}\n\n${text}\n`);
}
await writeFile(path.join(dir, 'dist', 'THIRD-PARTY-LICENSES.txt'), notices.join(`\n${'-'.repeat(72)}\n\n`));
