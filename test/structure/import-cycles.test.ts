/**
 * No import cycles in the server's code (issue 14): a module's imports resolve the way the compiler
 * resolves them (tsconfig.json, workspace packages through node_modules), and the graph of every file
 * under packages/ and services/ must have no strongly connected component larger than one file.
 * Type-only imports count too: a cycle of types still ties two modules' meanings together.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  return (config?.fileNames ?? []).filter((f) => /\/(packages|services)\/[^/]+\/src\//.test(f));
}

function graph(files: string[]): Map<string, string[]> {
  const options: ts.CompilerOptions = { module: ts.ModuleKind.Preserve, moduleResolution: ts.ModuleResolutionKind.Bundler, resolveJsonModule: true };
  const inside = new Set(files);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => ts.resolveModuleName(i.fileName, file, options, ts.sys).resolvedModule?.resolvedFileName)
      .filter((t): t is string => !!t && inside.has(t));
    edges.set(file, [...new Set(targets)]);
  }
  return edges;
}

/** Tarjan's strongly connected components; those of two files or more are cycles. */
function cycles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(path.relative(root, w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the server code', () => {
  it('has no import cycle', () => {
    const files = sourceFiles();
    const edges = graph(files);
    // The check sees the code: every service's entry and the workspace packages are in the graph, and
    // workspace imports resolve (api → core at least).
    expect(files.length).toBeGreaterThan(50);
    const api = [...edges.entries()].find(([f]) => f.endsWith('services/api/src/service.ts'))?.[1] ?? [];
    expect(api.some((t) => t.includes('/packages/records/src/'))).toBe(true);
    expect(cycles(edges)).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const a = path.join(root, 'a.ts');
    const b = path.join(root, 'b.ts');
    const c = path.join(root, 'c.ts');
    expect(cycles(new Map([[a, [b]], [b, [a, c]], [c, []]]))).toEqual([['a.ts', 'b.ts']]);
  });
});
