import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withLabels } from '../src/stages/build';
import { startScript, templateFor } from '../src/stages/recipe';
import { instructions } from '../src/stages/dockerfile';

describe('withLabels', () => {
  it('appends one LABEL line after the last instruction', () => {
    const out = withLabels('FROM node:20-slim\nCMD ["node"]\n\n\n', { 'io.slipway.app': 'shop', 'io.slipway.version': '1.0.0' });
    expect(out).toBe('FROM node:20-slim\nCMD ["node"]\n\n# Added by Slipway\nLABEL io.slipway.app="shop" io.slipway.version="1.0.0"\n');
  });

  it('lands as an instruction of its own after a last line that ends in a continuation (issue 12)', () => {
    const labels = { 'io.slipway.app': 'shop' };
    const last = (dockerfile: string) => instructions(withLabels(dockerfile, labels)).at(-1);
    expect(last('FROM x\nRUN echo built \\\n')).toMatchObject({ keyword: 'LABEL', args: 'io.slipway.app="shop"' });
    expect(last('FROM x\r\nRUN echo built \\  \r\n# trailing comment\r\n\r\n')).toMatchObject({ keyword: 'LABEL' });
    expect(last('# escape=`\nFROM x\nRUN echo built `\n')).toMatchObject({ keyword: 'LABEL' });
    expect(instructions(withLabels('FROM x\nRUN echo built \\\n', labels)).at(-2)).toMatchObject({ keyword: 'RUN', args: 'echo built' });
  });
});

describe('startScript (SPEC §3)', () => {
  const app = async (files: Record<string, string>) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-start-'));
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
    return dir;
  };
  const command = async (files: Record<string, string>) => (await startScript(await app(files))).split('\n').find((l) => l.startsWith('exec '));

  it('prefers npm start, then main, then the Makefile, then index.js or server.js', async () => {
    expect(await command({ 'package.json': '{"scripts":{"start":"node a.js"},"main":"b.js"}', 'b.js': '' })).toBe('exec npm start');
    expect(await command({ 'package.json': '{"main":"lib/b"}', Makefile: 'start:\n\tnode x\n' })).toBe('exec make start');
    expect(await command({ 'package.json': '{"main":"b.js"}', 'b.js': '' })).toBe("exec node 'b.js'");
    expect(await command({ Makefile: 'build:\n\ttrue\nstart:\n\tnode x\n' })).toBe('exec make start');
    expect(await command({ 'server.js': '' })).toBe('exec node server.js');
    expect(await command({ 'index.js': '', 'server.js': '' })).toBe('exec node index.js');
  });

  it('quotes a hostile main for the shell', async () => {
    const main = "x'; touch pwned; '";
    expect(await command({ 'package.json': JSON.stringify({ main }), [main]: '' })).toBe(`exec node 'x'\\''; touch pwned; '\\'''`);
  });

  it('refuses an app with nothing to start, with a message that says what to add', async () => {
    await expect(startScript(await app({ 'README.md': 'hi' }))).rejects.toThrow(/start.*script|Dockerfile/);
  });
});

describe('templateFor', () => {
  const app = async (files: Record<string, string>) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-template-'));
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
    return dir;
  };
  const steps = async (files: Record<string, string>) => instructions(await templateFor(await app(files))).map((i) => i.keyword);

  it('leaves the source step out for an app with no Makefile, build script or dev dependencies', async () => {
    const plain = await steps({ 'package.json': JSON.stringify({ name: 'a', dependencies: { ms: '2' }, scripts: { start: 'node .' } }) });
    expect(plain).toEqual(['ARG', 'FROM', 'WORKDIR', 'COPY', 'RUN', 'CMD', 'ENV', 'COPY']);
  });

  it('keeps it when there is work for it', async () => {
    const kept = ['ARG', 'FROM', 'WORKDIR', 'COPY', 'RUN', 'CMD', 'ENV', 'COPY', 'RUN'];
    expect(await steps({ 'package.json': JSON.stringify({ name: 'a', scripts: { build: 'vite build' } }) })).toEqual(kept);
    expect(await steps({ 'package.json': JSON.stringify({ name: 'a', devDependencies: { vite: '7' } }) })).toEqual(kept);
    expect(await steps({ 'package.json': JSON.stringify({ name: 'a' }), Makefile: 'build:\n\ttrue\n' })).toEqual(kept);
    expect(await steps({ Makefile: 'start:\n\ttrue\n' })).toEqual(kept);
  });
});
