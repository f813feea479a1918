/**
 * What the build must not let a Dockerfile do, read the way Docker's own parser reads it (directives,
 * the escape character, continuations, comments, case-insensitive keywords, JSON or shell form).
 *
 * `ADD <url>` is fetched by the engine itself, from the host's network namespace, outside any limit or
 * network the build runs in: it reaches Slipway's API, Redis and apps on loopback, and cloud metadata
 * addresses. Checking the address is not enough (the engine follows redirects and resolves names again),
 * so no ADD source may be a URL, nor a variable that could expand to one; the same for ONBUILD triggers,
 * in the Dockerfile or in the base images it builds from (they run in this build).
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** The escape character: `\` unless an `# escape=` directive at the very top says otherwise. */
export function escapeChar(text: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const m = DIRECTIVE.exec(raw.trim());
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) return m[2];
  }
  return '\\';
}

export function instructions(text: string): Instruction[] {
  const escape = escapeChar(text);
  const continued = new RegExp(`${escape === '\\' ? '\\\\' : escape}[ \\t\\r]*$`);
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    // Comments and blank lines are dropped, inside a continuation too.
    if (!trimmed || trimmed.startsWith('#')) return;
    if (!pending) start = i + 1;
    if (continued.test(line)) {
      pending += line.replace(continued, '');
      return;
    }
    pending += line;
    out.push(split(pending, start));
    pending = '';
  });
  if (pending.trim()) out.push(split(pending, start));
  return out;
}

function split(line: string, lineNo: number): Instruction {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(line)!;
  return { keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: lineNo };
}

/** The ADD sources (its own and its ONBUILD triggers') that are URLs or may expand to one. */
export function refusedAdds(list: Instruction[]): Array<{ line: number; source: string; onbuild: boolean }> {
  const found: Array<{ line: number; source: string; onbuild: boolean }> = [];
  for (const ins of list) {
    const [target, onbuild] = ins.keyword === 'ONBUILD' ? [split(ins.args, ins.line), true] : [ins, false];
    if (target.keyword !== 'ADD') continue;
    for (const source of addSources(target.args)) if (remoteOrUnknown(source)) found.push({ line: ins.line, source, onbuild });
  }
  return found;
}

/** The same for a base image's ONBUILD triggers (its Config.OnBuild lines). */
export function refusedTriggers(triggers: string[]): string[] {
  return refusedAdds(triggers.map((t, i) => split(t, i + 1))).map((f) => f.source);
}

function addSources(args: string): string[] {
  let rest = args;
  for (let m = /^--\S+\s+/.exec(rest); m; m = /^--\S+\s+/.exec(rest)) rest = rest.slice(m[0].length);
  let words: string[] | null = null;
  if (rest.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(rest);
      if (Array.isArray(parsed) && parsed.every((w) => typeof w === 'string')) words = parsed as string[];
    } catch {
      // Not JSON: Docker reads it as the shell form.
    }
  }
  words ??= rest.split(/\s+/).filter(Boolean);
  return words.slice(0, -1);
}

/** Quotes and escapes are removed by Docker's word processing, so they cannot hide a scheme. */
function remoteOrUnknown(source: string): boolean {
  const bare = source.replace(/["'\\`]/g, '');
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(bare) || bare.includes('$');
}

/**
 * The images the build's FROM lines name (not earlier stages, not `scratch`), with ARGs declared before the
 * first FROM expanded from their defaults and the build args. A name that still holds a variable is
 * returned as is: the caller refuses what it cannot check.
 */
export function baseImages(list: Instruction[], buildargs: Record<string, string>): string[] {
  const args: Record<string, string> = {};
  const stages = new Set<string>();
  const images: string[] = [];
  let seenFrom = false;
  for (const ins of list) {
    if (ins.keyword === 'ARG' && !seenFrom) {
      for (const word of ins.args.split(/\s+/).filter(Boolean)) {
        const [name, ...value] = word.split('=');
        args[name!] = buildargs[name!] ?? unquote(value.join('='));
      }
    }
    if (ins.keyword !== 'FROM') continue;
    seenFrom = true;
    const words = ins.args.split(/\s+/).filter((w) => w && !w.startsWith('--'));
    const image = expand(words[0] ?? '', args);
    if (words[1]?.toLowerCase() === 'as' && words[2]) stages.add(words[2].toLowerCase());
    if (!image || image.toLowerCase() === 'scratch' || stages.has(image.toLowerCase())) continue;
    if (!images.includes(image)) images.push(image);
  }
  return images;
}

function expand(word: string, args: Record<string, string>): string {
  return word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced, op, alt, plain) => {
    const name = braced ?? plain;
    const value = args[name];
    if (op === '-') return value ? value : alt;
    if (op === '+') return value ? alt : '';
    return value ?? whole;
  });
}

const unquote = (v: string) => v.replace(/^(["'])(.*)\1$/, '$2');
