import { describe, expect, it } from 'vitest';
import { appNameFromPackageName, identityFromFileName, isAppName, isVersion, resolveIdentity } from '../src/names';

describe('app names and versions', () => {
  it.each(['a', 'shop', 'my-app-2', '0x', 'a'.repeat(63)])('accepts the name %s', (name) => expect(isAppName(name)).toBe(true));
  it.each(['', '-a', 'A', 'my_app', 'my.app', 'a'.repeat(64), '../x', 'node:20', 'é'])('refuses the name %j', (name) =>
    expect(isAppName(name)).toBe(false),
  );
  it.each(['1.0.0', 'v2', 'latest', '1.0.0-rc.1', '_x', 'A_b.C-d', 'a'.repeat(128)])('accepts the version %s', (v) =>
    expect(isVersion(v)).toBe(true),
  );
  it.each(['', '.1', '-1', '1/2', 'A:B', 'a'.repeat(129), '1 0', '../x'])('refuses the version %j', (v) => expect(isVersion(v)).toBe(false));

  it('turns a scoped npm name into scope-name', () => {
    expect(appNameFromPackageName('@acme/shop')).toBe('acme-shop');
    expect(appNameFromPackageName('shop')).toBe('shop');
  });
});

describe('identity from the file name', () => {
  it.each([
    ['shop_1.4.2.tar.gz', 'shop', '1.4.2'],
    ['shop-1.4.2.tgz', 'shop', '1.4.2'],
    ['my-app-2.0.0.zip', 'my-app', '2.0.0'],
    ['my-app-2.0.0-rc.1.tar', 'my-app', '2.0.0-rc.1'],
    ['dir/shop-v3.tgz', 'shop', 'v3'],
  ])('%s → %s %s', (file, app, version) => expect(identityFromFileName(file)).toEqual({ app, version }));

  it.each(['shop.tgz', 'shop-.tgz', 'shop-1.0.0.rar', 'README'])('finds nothing in %s', (file) =>
    expect(identityFromFileName(file)).toBeNull(),
  );
});

describe('resolveIdentity (SPEC §2 order)', () => {
  const pkg = { name: '@acme/shop', version: '2.0.0' };

  it('prefers form fields, then package.json, then the file name, part by part', () => {
    expect(resolveIdentity({ form: { app: 'web', version: '9' }, packageJson: pkg, fileName: 'x-1.0.0.tgz' })).toEqual({
      ok: true,
      app: 'web',
      version: '9',
    });
    expect(resolveIdentity({ form: {}, packageJson: pkg, fileName: 'x-1.0.0.tgz' })).toEqual({ ok: true, app: 'acme-shop', version: '2.0.0' });
    expect(resolveIdentity({ form: { version: '3' }, packageJson: { name: 'api' }, fileName: 'x-1.0.0.tgz' })).toEqual({
      ok: true,
      app: 'api',
      version: '3',
    });
    expect(resolveIdentity({ form: {}, packageJson: null, fileName: 'shop_1.4.2.tar.gz' })).toEqual({ ok: true, app: 'shop', version: '1.4.2' });
    // SPEC §2: a gzipped tar named `.gz`, the seed's `name_version.gz` uploads, and `name-version.gz`.
    expect(resolveIdentity({ form: {}, fileName: 'frontend_1.2.0.gz' })).toEqual({ ok: true, app: 'frontend', version: '1.2.0' });
    expect(resolveIdentity({ form: {}, fileName: 'admin-web-2.0.1.gz' })).toEqual({ ok: true, app: 'admin-web', version: '2.0.1' });
    expect(resolveIdentity({ form: {}, fileName: 'shop-1.4.2.tar.gz' })).toEqual({ ok: true, app: 'shop', version: '1.4.2' });
  });

  it('treats blank form fields as absent', () => {
    expect(resolveIdentity({ form: { app: '  ', version: '' }, packageJson: pkg })).toMatchObject({ ok: true, app: 'acme-shop' });
  });

  it('names what is missing or invalid', () => {
    expect(resolveIdentity({ form: {}, fileName: 'archive.tgz' })).toMatchObject({ ok: false, code: 'name_required' });
    expect(resolveIdentity({ form: { app: 'shop' }, fileName: 'archive.tgz' })).toMatchObject({ ok: false, code: 'version_required' });
    expect(resolveIdentity({ form: { app: 'Shop', version: '1' } })).toMatchObject({ ok: false, code: 'invalid_name' });
    expect(resolveIdentity({ form: { app: 'shop', version: 'A:B' } })).toMatchObject({ ok: false, code: 'invalid_version' });
    expect(resolveIdentity({ form: {}, packageJson: { name: 'node', version: '1.0.0/../../x' } })).toMatchObject({
      ok: false,
      code: 'invalid_version',
    });
  });

  it('does not echo control characters or unbounded input back', () => {
    const result = resolveIdentity({ form: { app: `x\u0000\n${'y'.repeat(500)}`, version: '1' } });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).not.toMatch(/[\u0000\n]/);
      expect(result.message.length).toBeLessThan(300);
    }
  });
});
