import { describe, expect, it } from 'vitest';
import { LinkTracker, MAX_LINK_HOPS, resolveLink } from '../src/stages/links';

const lookup = (links: Record<string, string>) => (rel: string) => links[rel];

/** `s → .`, `u1 → s/..`, … `uN → u(N-1)/..`: every target reads as `.`, but `uN` is N folders up. */
function chain(depth: number): Record<string, string> {
  const links: Record<string, string> = { s: '.' };
  for (let i = 1; i <= depth; i++) links[`u${i}`] = `${i === 1 ? 's' : `u${i - 1}`}/..`;
  return links;
}

describe('resolveLink', () => {
  it.each([
    ['lib/current', 'v1', {}, 'lib/v1'],
    ['a/b/c', '../../d', {}, 'd'],
    ['link', '.', {}, ''],
    ['c2', 'c1/c1/x', { c0: '.', c1: 'c0' }, 'x'],
    ['bin/tool', '../lib/current/tool', { 'lib/current': 'v2' }, 'lib/v2/tool'],
    ['up', 'a/b/..', { 'a/b': '../c' }, ''],
  ])('%s → %s, through %j, is %j', (link, target, links, real) => {
    expect(resolveLink(link, target, lookup(links))).toEqual({ ok: true, path: real });
  });

  it('refuses a chain of 12 links, each lexically inside, that reaches the folder above', () => {
    const links = chain(12);
    expect(resolveLink('s', '.', lookup(links)).ok).toBe(true);
    for (let i = 1; i <= 12; i++) expect(resolveLink(`u${i}`, links[`u${i}`]!, lookup(links))).toMatchObject({ ok: false, reason: expect.stringMatching(/outside/) });
    expect(resolveLink('host', 'u12/tmp/planted', lookup(links)).ok).toBe(false);
  });

  it('follows `..` from where a link really led: a → . makes a/a/a/../../.. climb three', () => {
    expect(resolveLink('x', 'a/a/a/../../..', lookup({ a: '.' })).ok).toBe(false);
    expect(resolveLink('x', 'a/a/a/../../..', lookup({})).ok).toBe(true);
  });

  it('refuses absolute targets and loops', () => {
    expect(resolveLink('l', '/app/x', lookup({})).ok).toBe(false);
    expect(resolveLink('l', 'b/x', lookup({ b: '/etc' })).ok).toBe(false);
    expect(resolveLink('a', 'b', lookup({ a: 'b', b: 'a' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/more than 40 links/) });
    const long: Record<string, string> = { c0: '.' };
    for (let i = 1; i <= MAX_LINK_HOPS + 1; i++) long[`c${i}`] = `c${i - 1}`;
    expect(resolveLink('x', `c${MAX_LINK_HOPS - 1}`, lookup(long)).ok).toBe(true);
    expect(resolveLink('x', `c${MAX_LINK_HOPS + 1}`, lookup(long)).ok).toBe(false);
  });
});

describe('LinkTracker', () => {
  const admitAll = (entries: Array<[string, 'file' | 'directory' | 'symlink', string?]>) => {
    const tracker = new LinkTracker();
    for (const [rel, kind, target] of entries) {
      const r = tracker.admit(rel, kind, target);
      if (!r.ok) return r.reason;
    }
    return 'ok';
  };

  it('keeps links that stay inside, links before their targets, and folders next to links', () => {
    expect(admitAll([['early', 'symlink', 'later/x'], ['later', 'directory'], ['later/x', 'file'], ['c0', 'symlink', '.'], ['c1', 'symlink', 'c0'], ['c1x', 'file']])).toBe('ok');
  });

  it('refuses an entry written through a link, even one that points inside', () => {
    expect(admitAll([['d', 'directory'], ['l', 'symlink', 'd'], ['l/x', 'file']])).toMatch(/written through the link "l"/);
    expect(admitAll([['l', 'symlink', '.'], ['l/sub/', 'directory']])).toMatch(/through the link/);
  });

  it('refuses a folder or a file landing on a link, and a link replacing a folder', () => {
    expect(admitAll([['d', 'directory'], ['l', 'symlink', 'd'], ['l', 'directory']])).toMatch(/folder "l" lands on a link/);
    expect(admitAll([['l', 'symlink', 'x'], ['l', 'file']])).toMatch(/lands on a link/);
    expect(admitAll([['a/b', 'file'], ['a', 'symlink', '.']])).toMatch(/replaces a folder/);
  });

  it('refuses the chain once its links exist, in the order they come', () => {
    const links = chain(12);
    expect(admitAll([...Object.entries(links).map(([rel, t]): [string, 'symlink', string] => [rel, 'symlink', t])])).toMatch(/"u1" → "s\/\.\." leads outside/);
  });

  it('refuses an entry that would replace the root, but not the root folder entry itself', () => {
    expect(admitAll([['', 'directory']])).toBe('ok');
    expect(admitAll([['', 'symlink', 'x']])).not.toBe('ok');
  });
});
