import { describe, expect, it } from 'vitest';
import { checkEntryPath, checkLinkTarget, sniffFormat } from '../src/archive';

describe('entry paths', () => {
  it.each([
    ['package.json', 'package.json'],
    ['./src/index.js', 'src/index.js'],
    ['app/', 'app'],
    ['a//b/./c', 'a/b/c'],
    ['./', ''],
  ])('keeps %j as %j', (name, normalized) => expect(checkEntryPath(name)).toEqual({ ok: true, path: normalized }));

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', '..', 'C:\\windows', 'a\\..\\..\\x', 'a\u0000b', 'x'.repeat(5000)])(
    'refuses %j',
    (name) => expect(checkEntryPath(name).ok).toBe(false),
  );
});

describe('link targets', () => {
  it.each([
    ['lib/current', 'v1'],
    ['lib/current', '../bin/tool'],
    ['a/b/c', '../../d'],
    ['link', '.'],
  ])('keeps %s → %s (inside)', (entry, target) => expect(checkLinkTarget(entry, target).ok).toBe(true));

  it.each([
    ['link', '..'],
    ['link', '../outside'],
    ['a/link', '../../etc/passwd'],
    ['link', '/etc/passwd'],
    ['link', '/app/inside-but-absolute'],
    ['link', ''],
  ])('refuses %s → %s', (entry, target) => expect(checkLinkTarget(entry, target).ok).toBe(false));

  it('refuses a sibling-prefix escape like ../app-evil', () => {
    expect(checkLinkTarget('x', '../app-evil/file').ok).toBe(false);
  });
});

describe('format sniffing', () => {
  it('knows gzip, zip and ustar tar by their bytes', () => {
    expect(sniffFormat(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('tar.gz');
    expect(sniffFormat(Buffer.from('PK\u0003\u0004rest', 'latin1'))).toBe('zip');
    expect(sniffFormat(Buffer.from('PK\u0005\u0006', 'latin1'))).toBe('zip');
    const tar = Buffer.alloc(512);
    tar.write('ustar', 257, 'latin1');
    expect(sniffFormat(tar)).toBe('tar');
  });

  it('refuses anything else', () => {
    expect(sniffFormat(Buffer.from('hello world, not an archive'))).toBeNull();
    expect(sniffFormat(Buffer.alloc(0))).toBeNull();
    expect(sniffFormat(Buffer.from('%PDF-1.7'))).toBeNull();
  });
});
