import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startScript, withLabels } from '../src/stages/build';

describe('withLabels', () => {
  it('appends one LABEL line after the last instruction', () => {
    const out = withLabels('FROM node:20-slim\nCMD ["node"]\n\n\n', { 'io.slipway.app': 'shop', 'io.slipway.version': '1.0.0' });
    expect(out).toBe('FROM node:20-slim\nCMD ["node"]\n\n# Added by Slipway\nLABEL io.slipway.app="shop" io.slipway.version="1.0.0"\n');
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
