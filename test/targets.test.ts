// Finding a target again in the child (ts/base/modules.ts): start() resolves the
// export in the parent and refuses, before anything is spawned, a function
// the child could not find; every valid form runs.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Process, SharedMemory, activeChildren } from '../dist/index.js';
import { resolveExport } from '../dist/base/modules.js';
import { fixture, startNode } from './helpers/child';

const esm = fixture('export-forms.mjs');
const esmUrl = pathToFileURL(esm).href;

const e: Record<string, any> = await import(esm);
const load = createRequire(import.meta.url);

const cjs: Record<string, any> = load(fixture('export-forms.cjs'));

const cjsObject: Record<string, any> = load(fixture('export-object.cjs'));

const cjsFunction: any = load(fixture('export-function.cjs'));

// The test runner rewrites the modules a test imports, and gives a default
// export function another name; the child imports the module as it is. A
// stand-in with the name Node gives `export default function () {}` is
// looked up the same way (by name, as every ES module export is).
const esmDefault = { default: function () {} }.default;

const made: SharedMemory[] = [];
const started: Process[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.exitCode === null) p.kill();
    await p.join();
  }
  for (const s of made.splice(0)) {
    s.close();
    s.unlink();
  }
});

/** Runs `target` from `module` in a child; resolves with the mark it wrote (0: none) and its exit code. */
async function runs(target: unknown, module: string | URL, mark: number): Promise<[number, number | null]> {
  const shm = new SharedMemory({ create: true, size: 8 });
  made.push(shm);
  const p = new Process({ target: target as (...args: any[]) => unknown, args: [shm, mark], module });
  started.push(p);
  p.start();
  await p.join();
  return [shm.buf[0], p.exitCode];
}

/** start() of `target` throws `message` and spawns nothing. */
function refused(target: unknown, module: string | URL | undefined, message: RegExp): void {
  const before = activeChildren().length;
  const p = new Process({ target: target as (...args: any[]) => unknown, ...(module === undefined ? {} : { module }) });
  expect(() => p.start()).toThrow(TypeError);
  expect(() => p.start()).toThrow(message);
  expect(p.pid).toBe(undefined);
  expect(activeChildren().length).toBe(before);
}

describe('resolveExport', () => {
  it('ES modules: by the local name of an export, an alias resolved to its exported name', () => {
    expect(resolveExport(e.declared, esm, 'the target')).toEqual({ module: esmUrl, exportName: 'declared' });
    expect(resolveExport(e.arrow, esmUrl, 'the target')).toEqual({ module: esmUrl, exportName: 'arrow' });
    expect(resolveExport(e.job, new URL(esmUrl), 'the target')).toEqual({ module: esmUrl, exportName: 'job' });
    expect(esmDefault.name).toBe('default');
    expect(resolveExport(esmDefault, esm, 'the target')).toEqual({ module: esmUrl, exportName: 'default' });
    expect(resolveExport(e.ExportedWorker, esm, 'the Process subclass')).toEqual({ module: esmUrl, exportName: 'ExportedWorker' });
  });

  it('CommonJS modules: by identity among the exports, anonymous functions included', () => {
    const url = pathToFileURL(fixture('export-forms.cjs')).href;
    expect(resolveExport(cjs.anonymous, fixture('export-forms.cjs'), 'the target')).toEqual({ module: url, exportName: 'anonymous' });
    expect(cjs.anonymous.name).toBe('');
    expect(resolveExport(cjs.named, fixture('export-forms.cjs'), 'the target').exportName).toBe('named');
    expect(resolveExport(cjsObject.work, fixture('export-object.cjs'), 'the target').exportName).toBe('work');
    expect(resolveExport(cjsObject.job, fixture('export-object.cjs'), 'the target').exportName).toBe('job');
    expect(resolveExport(cjsFunction, fixture('export-function.cjs'), 'the target').exportName).toBe('default');
  });

  it('TypeScript: the lexer reads erasable TypeScript', () => {
    const ts = fixture('export-forms.mts');
    function typed(): void {}
    function hiddenTyped(): void {}
    expect(resolveExport(typed, ts, 'the target').exportName).toBe('typed');
    expect(() => resolveExport(hiddenTyped, ts, 'the target')).toThrow(/"hiddenTyped" is not exported by .*export-forms\.mts/);
  });

  it('mistakes are TypeErrors that say what is wrong and how to fix it', () => {
    const m = e.mistakes;
    expect(() => resolveExport(m.hidden, esm, 'the target')).toThrow(
      /^the target "hidden" is not exported by .*export-forms\.mjs: .*Export it \(`export function hidden` or `export \{ hidden \}`\)/,
    );
    expect(() => resolveExport(m.hiddenArrow, esm, 'the target')).toThrow(/"hiddenArrow" is not exported/);
    // A different function is exported under its name: not mistaken for it.
    expect(() => resolveExport(m.shadowed, esm, 'the target')).toThrow(/"shadowed" is not exported/);
    expect(() => resolveExport(m.inline, esm, 'the Barrier action')).toThrow(
      /^the Barrier action is an anonymous function, and .*export-forms\.mjs does not export it: .*an inline function cannot be found there/,
    );
    expect(() => resolveExport(m.bound, esm, 'the target')).toThrow(/^the target is a bound function \("bound declared"\)/);
    expect(() => resolveExport(cjs.getHidden(), fixture('export-forms.cjs'), 'the target')).toThrow(
      /"hidden" is not exported by .*export-forms\.cjs: .*`exports\.hidden = hidden`/,
    );
    expect(() => resolveExport((() => () => {})(), fixture('export-forms.cjs'), 'the target')).toThrow(/anonymous function/);
    expect(() => resolveExport(5 as never, esm, 'the target')).toThrow(/^the target must be a function, got number 5/);
    expect(() => resolveExport(m.hidden, '', 'the target')).toThrow(/options\.module must be a path/);
    expect(() => resolveExport(m.hidden, '/nonexistent/x.mjs', 'the target')).toThrow(
      /^cannot find the module that exports the target "hidden": options\.module names \/nonexistent\/x\.mjs, which does not exist/,
    );
  });

  it("falls back to the function's name where the module cannot be checked (a data: URL)", () => {
    function f(): void {}
    const data = 'data:text/javascript,export function g() {}';
    expect(resolveExport(f, data, 'the target')).toEqual({ module: data, exportName: 'f' });
    expect(() => resolveExport(() => {}, data, 'the target')).toThrow(/anonymous function/);
  });
});

describe('Process.start() with each form', () => {
  it('runs ESM export forms: declaration, const arrow, alias, default', async () => {
    expect(await runs(e.declared, esm, 1)).toEqual([1, 0]);
    expect(await runs(e.arrow, esm, 2)).toEqual([2, 0]);
    expect(await runs(e.job, esm, 3)).toEqual([3, 0]);
    expect(await runs(esmDefault, esmUrl, 4)).toEqual([4, 0]);
  });

  it('runs CommonJS export forms: exports.f = () => {}, module.exports = { f }, module.exports = function', async () => {
    expect(await runs(cjs.anonymous, fixture('export-forms.cjs'), 5)).toEqual([5, 0]);
    expect(await runs(cjs.renamed, fixture('export-forms.cjs'), 6)).toEqual([6, 0]);
    expect(await runs(cjsObject.job, fixture('export-object.cjs'), 7)).toEqual([7, 0]);
    expect(await runs(cjsFunction, fixture('export-function.cjs'), 8)).toEqual([8, 0]);
  });

  it('refuses every mistake in the parent, spawning nothing', () => {
    const m = e.mistakes;
    refused(m.hidden, esm, /"hidden" is not exported by .*export-forms\.mjs/);
    refused(m.shadowed, esm, /"shadowed" is not exported/);
    refused(m.inline, esm, /the target is an anonymous function/);
    refused(() => 1, esm, /anonymous function/);
    refused(m.bound, esm, /bound function/);
    refused(cjs.getHidden(), fixture('export-forms.cjs'), /"hidden" is not exported by .*export-forms\.cjs/);
    const worker = m.makeHiddenWorker() as Process;
    expect(() => worker.start()).toThrow(/^the Process subclass "HiddenWorker" is not exported by .*export-forms\.mjs/);
    expect(worker.pid).toBe(undefined);
  });

  it('a module it cannot check: the child reports the missing export, exit 1', async () => {
    function missing(): void {}
    const r = startNode([
      '--input-type=module',
      '-e',
      `
      import { Process } from ${JSON.stringify(pathToFileURL(fixture('../../dist/index.js')).href)};
      const p = new Process({ target: function missing() {}, module: 'data:text/javascript,export function other() {}' });
      p.start(); await p.join(); console.log('exit', p.exitCode);`,
    ]);
    await r.line(/^exit/);
    expect(r.stdout()).toContain('exit 1');
    expect(r.stderr()).toMatch(/data:text\/javascript,export function other\(\) \{\} has no export named "missing"/);
    expect(missing.name).toBe('missing');
  });
});

describe('main scripts', () => {
  it('an unexported target in an ESM main script: start() throws in the parent', async () => {
    const r = startNode([fixture('unexported.mjs')]);
    expect(await r.exited).toBe(1);
    expect(r.stdout()).toBe('');
    expect(r.stderr()).toMatch(
      /TypeError: the target "hidden" is not exported by .*unexported\.mjs \(the main script\): .*or pass \{ module \}/,
    );
  });

  it('an unexported target in a TypeScript main script under tsx: start() throws in the parent', async () => {
    const r = startNode(['--import', 'tsx', fixture('unexported-ts.mts')]);
    expect(await r.exited).toBe(1);
    expect(r.stdout()).toBe('');
    expect(r.stderr()).toMatch(/the target "hidden" is not exported by .*unexported-ts\.mts/);
  });

  it('a CommonJS main script still loading: a function it does not export, and an inline one, are refused in the parent', async () => {
    const r = startNode([fixture('main-cjs-unexported.cjs')]);
    expect(await r.exited).toBe(0);
    const lines = r.stdout().trim().split('\n');
    expect(lines[0]).toMatch(
      /^TypeError: the target "hidden" is not exported by .*main-cjs-unexported\.cjs \(the main script\): .*`exports\.hidden = hidden`/,
    );
    expect(lines[1]).toMatch(/^TypeError: the target is an anonymous function, and .* does not export it yet/);
    expect(lines[2]).toMatch(
      /^TypeError: the target looks like an inline function \(its name "target" is only that of the option it was written in\)/,
    );
    expect(lines).toHaveLength(3);
  });

  it('a CommonJS main script: an anonymous exports.f works, and exports assigned later are not refused', async () => {
    const r = startNode([fixture('main-cjs-anonymous.cjs')]);
    await r.line(/^exit/);
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toContain('hello anonymous from child');
    expect(r.stdout()).toContain('late exports from child');
    expect(r.stdout()).toContain('exit 0 0');
  });
});
