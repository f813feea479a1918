/**
 * The dependency manifests the Node template installs from in their own layer (issue 13): only what
 * `npm ci` reads to decide what to install, so a new version with the same dependencies reuses the layer.
 * The root `version` is dropped (most users bump it with every upload), and so are the scripts npm ci
 * never runs for the root package; the lockfile loses its root version likewise. The real files come in
 * with the source right after, so `npm run build`, `npm start` and the app itself see them unchanged.
 */

/** The root package's scripts that `npm ci` runs; every other script cannot change the install. */
const INSTALL_SCRIPTS = new Set(['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare', 'dependencies']);

export const DEPENDENCY_MANIFESTS = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'] as const;

/**
 * `content` normalised for the install layer; unchanged when it is not a JSON object (npm then fails on
 * it in the build with its own message, as it would have).
 */
export function installManifest(name: (typeof DEPENDENCY_MANIFESTS)[number], content: Buffer): Buffer {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch {
    return content;
  }
  if (!isObject(json)) return content;
  const { version: _version, ...rest } = json;
  if (name === 'package.json') {
    if (isObject(rest.scripts)) {
      const kept = Object.entries(rest.scripts).filter(([script]) => INSTALL_SCRIPTS.has(script));
      if (kept.length) rest.scripts = Object.fromEntries(kept);
      else delete rest.scripts;
    }
  } else if (isObject(rest.packages) && isObject(rest.packages[''])) {
    const { version: _rootVersion, ...root } = rest.packages[''];
    rest.packages = { ...rest.packages, '': root };
  }
  return Buffer.from(`${JSON.stringify(rest, null, 2)}\n`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
