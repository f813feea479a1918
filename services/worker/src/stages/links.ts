/**
 * Symbolic links judged as the kernel would follow them, not by their text (SPEC §2, issue 12): `u → s/..`
 * reads as `.`, but when `s → .` it is the folder above. A target is resolved one segment at a time through
 * every link that exists, so a chain of links that each look inside but together reach `/` is seen.
 * Pure: the links come from a lookup, an archive's entries so far or a tree read from disk.
 */
import type { PathCheck } from '@slipway/runtime/archive';

/** Links followed while resolving one target, as the kernel's own limit (ELOOP). */
export const MAX_LINK_HOPS = 40;

/** `rel` (slash-separated, relative to the root, no `.`/`..`) → that link's target, when `rel` is a link. */
export type LinkLookup = (rel: string) => string | undefined;

type Walk = { ok: true; at: string[] } | { ok: false; why: 'absolute' | 'outside' | 'loop' };

/**
 * Where the link at `linkPath` really points, relative to the root, or why it leaves it. `linkPath`'s folders
 * must be real folders (no link among them): the unpack refuses any entry below a link, and a walk of the
 * disk never descends into one.
 */
export function resolveLink(linkPath: string, target: string, linkAt: LinkLookup): PathCheck {
  const parent = linkPath.split('/').slice(0, -1);
  const walked = walk(parent, target, linkAt, { hops: 0 });
  if (walked.ok) return { ok: true, path: walked.at.join('/') };
  const why = { absolute: 'points to an absolute path', outside: 'leads outside the app folder', loop: `goes through more than ${MAX_LINK_HOPS} links` }[walked.why];
  return { ok: false, reason: `link "${short(linkPath)}" → "${short(target)}" ${why}, followed through the archive's other links` };
}

function walk(from: string[], target: string, linkAt: LinkLookup, budget: { hops: number }): Walk {
  if (target.startsWith('/')) return { ok: false, why: 'absolute' };
  let at = [...from];
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      // `..` climbs from where the links really led, not from the text before it.
      if (at.length === 0) return { ok: false, why: 'outside' };
      at.pop();
      continue;
    }
    at.push(segment);
    const next = linkAt(at.join('/'));
    if (next === undefined) continue;
    if (++budget.hops > MAX_LINK_HOPS) return { ok: false, why: 'loop' };
    at.pop();
    const followed = walk(at, next, linkAt, budget);
    if (!followed.ok) return followed;
    at = followed.at;
  }
  return { ok: true, at };
}

export type EntryKind = 'file' | 'directory' | 'symlink';

/**
 * The links an archive has created so far, checked entry by entry before anything touches the disk: no entry
 * is written below a link or on top of one (a folder landing on a link would chmod its target), no link
 * replaces a folder, and each link's target is resolved through the links before it. A link whose target
 * comes later can still change meaning: the finished tree is judged again on disk (unpack's last step).
 */
export class LinkTracker {
  private readonly links = new Map<string, string>();
  private readonly dirs = new Set<string>();

  admit(rel: string, kind: EntryKind, target = ''): PathCheck {
    if (rel === '') return kind === 'directory' ? { ok: true, path: rel } : { ok: false, reason: 'an entry replaces the app folder itself' };
    const segments = rel.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (this.links.has(folder)) return { ok: false, reason: `"${short(rel)}" would be written through the link "${short(folder)}"` };
    }
    if (this.links.has(rel)) return { ok: false, reason: `${kind === 'directory' ? 'the folder' : 'the entry'} "${short(rel)}" lands on a link` };
    if (kind === 'symlink') {
      if (this.dirs.has(rel)) return { ok: false, reason: `the link "${short(rel)}" replaces a folder` };
      const resolved = resolveLink(rel, target, (p) => this.links.get(p));
      if (!resolved.ok) return resolved;
      this.links.set(rel, target);
    } else if (kind === 'directory') {
      this.dirs.add(rel);
    }
    for (let i = 1; i < segments.length; i++) this.dirs.add(segments.slice(0, i).join('/'));
    return { ok: true, path: rel };
  }
}

function short(s: string): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}
