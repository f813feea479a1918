import { describe, expect, it } from 'vitest';
import { installManifest } from '../src/stages/manifests';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const parsed = (buf: Buffer) => JSON.parse(buf.toString('utf8'));

describe('install manifests', () => {
  it('drops the version and the scripts npm ci never runs from package.json', () => {
    const pkg = {
      name: 'shop',
      version: '1.4.2',
      scripts: { start: 'node .', build: 'tsc', test: 'vitest', postinstall: 'patch-package', prepare: 'husky' },
      dependencies: { express: '^4.21.0' },
      devDependencies: { typescript: '^5.6.0' },
      engines: { node: '>=20' },
    };
    expect(parsed(installManifest('package.json', json(pkg)))).toEqual({
      name: 'shop',
      scripts: { postinstall: 'patch-package', prepare: 'husky' },
      dependencies: { express: '^4.21.0' },
      devDependencies: { typescript: '^5.6.0' },
      engines: { node: '>=20' },
    });
  });

  it('gives the same bytes for two versions with the same dependencies', () => {
    const v1 = { name: 'shop', version: '1.0.0', scripts: { start: 'node a.js' }, dependencies: { ms: '2.1.3' } };
    const v2 = { name: 'shop', version: '2.0.0', scripts: { start: 'node b.js', build: 'make' }, dependencies: { ms: '2.1.3' } };
    expect(installManifest('package.json', json(v2)).equals(installManifest('package.json', json(v1)))).toBe(true);
    expect(parsed(installManifest('package.json', json(v1)))).not.toHaveProperty('scripts');
    const v3 = { ...v2, dependencies: { ms: '2.1.2' } };
    expect(installManifest('package.json', json(v3)).equals(installManifest('package.json', json(v1)))).toBe(false);
  });

  it('drops the root version from a lockfile and keeps every dependency entry', () => {
    const lock = (version: string) => ({
      name: 'shop',
      version,
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'shop', version, dependencies: { ms: '2.1.3' } },
        'node_modules/ms': { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', integrity: 'sha512-x' },
      },
    });
    const out = parsed(installManifest('package-lock.json', json(lock('1.0.0'))));
    expect(out).toEqual({
      name: 'shop',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'shop', dependencies: { ms: '2.1.3' } },
        'node_modules/ms': { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', integrity: 'sha512-x' },
      },
    });
    expect(installManifest('npm-shrinkwrap.json', json(lock('9.9.9'))).equals(installManifest('npm-shrinkwrap.json', json(lock('1.0.0'))))).toBe(true);
  });

  it('leaves what is not a JSON object as it is, for npm to report', () => {
    for (const raw of ['{ not json', '[1,2]', '"text"', '']) expect(installManifest('package.json', Buffer.from(raw)).toString()).toBe(raw);
  });
});
