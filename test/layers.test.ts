// The layers of ts/ (DEVELOPERS.md, "Layers"): every file imports only from
// its own folder or from a folder of a lower layer, and no files import each
// other in a circle (type-only imports count: a circle of types is a circle
// of concepts). Read from the sources, so a lazy require() counts too.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repo } from './helpers/child';

const TS = path.join(repo, 'ts');

// Lowest first; folders on one line are siblings: they may not import each other.
const LAYERS: readonly (readonly string[])[] = [
  ['base'],
  ['binding'],
  ['share'],
  ['shm'],
  ['wait'],
  ['sync', 'messaging'],
  ['values'],
  ['process'],
  ['pool', 'manager'],
  ['scaleout'], // the Pool's BullMQ backend and worker host
  ['cli', '.'], // index.ts
];
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [path.relative(TS, p)] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;

function importsOf(file: string): string[] {
  // Comments may name files; only code counts.
  const code = fs
    .readFileSync(path.join(TS, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  return [...code.matchAll(SPECIFIER)].map((m) => {
    const target = path.normalize(path.join(path.dirname(file), m[1]));
    return fs.existsSync(path.join(TS, `${target}.ts`)) ? `${target}.ts` : path.join(target, 'index.ts');
  });
}

const folderOf = (file: string): string => (file.includes(path.sep) ? file.split(path.sep)[0] : '.');
const files = sources(TS);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('the layers of ts/', () => {
  it('has every folder in the layer map', () => {
    expect(files.map(folderOf).filter((f) => !rank.has(f))).toEqual([]);
  });

  it('imports only from its own folder or a lower layer', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const from = folderOf(file);
        const to = folderOf(target);
        if (from !== to && !(rank.get(to)! < rank.get(from)!)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import circle', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        circles.push([...stack.slice(stack.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) visit(t);
      stack.pop();
      state.set(f, 'done');
    };
    files.forEach(visit);
    expect(circles).toEqual([]);
  });

  it('reads every import it checks (a sanity check of the parser)', () => {
    expect(graph.get('index.ts')!.length).toBeGreaterThan(10);
    for (const targets of graph.values()) for (const t of targets) expect(fs.existsSync(path.join(TS, t)), t).toBe(true);
  });
});
