import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectKind, siteTemplateFor } from '../src/stages/recipe';
import { siteLine } from '../src/stages/site-server';
import { instructions } from '../src/stages/dockerfile';

async function app(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-recipe-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

describe('detectKind (issue 15)', () => {
  it('tells a Dockerfile, a Node app, a front-end and a static site apart', async () => {
    expect(await detectKind(await app({ Dockerfile: 'FROM x\n', 'index.html': '' }))).toBe('dockerfile');
    expect(await detectKind(await app({ 'package.json': JSON.stringify({ scripts: { start: 'node .', build: 'tsc' } }) }))).toBe('node');
    expect(await detectKind(await app({ 'server.js': '', 'index.html': '' }))).toBe('node');
    // Vite keeps its entry index.html at the root: the build still decides.
    expect(await detectKind(await app({ 'package.json': JSON.stringify({ scripts: { build: 'vite build' } }), 'index.html': '' }))).toBe('frontend');
    expect(await detectKind(await app({ Makefile: 'install:\n\tnpm ci\nbuild:\n\tnpm run build\n' }))).toBe('frontend');
    expect(await detectKind(await app({ 'index.html': '', 'assets/app.js': '' }))).toBe('static');
    // Nothing to build, start or serve: the Node template says what is missing.
    expect(await detectKind(await app({ 'README.md': '' }))).toBe('node');
  });

  it('lets the app\'s kind setting override the guess', async () => {
    expect(await detectKind(await app({ 'index.html': '', 'server.js': '' }), 'static')).toBe('static');
    expect(await detectKind(await app({ Dockerfile: 'FROM x\n' }), 'node')).toBe('node');
  });
});

describe('siteTemplateFor', () => {
  it('keeps the build step for a front-end and leaves it out for a static site; two stages either way', async () => {
    const front = instructions(await siteTemplateFor('frontend')).map((i) => i.keyword);
    const plain = instructions(await siteTemplateFor('static')).map((i) => i.keyword);
    expect(front.filter((k) => k === 'FROM')).toHaveLength(2);
    expect(front.filter((k) => k === 'RUN')).toHaveLength(3);
    expect(plain.filter((k) => k === 'RUN')).toHaveLength(2);
  });
});

describe('siteLine', () => {
  it('reads the folder served and its file count from the build output', () => {
    expect(siteLine('slipway-site: dist 12')).toEqual({ dir: 'dist', files: 12 });
    expect(siteLine('slipway-site: . 3\n')).toEqual({ dir: '.', files: 3 });
    expect(siteLine('Step 5/9 : RUN echo slipway-site: x 1')).toBeNull();
  });
});
