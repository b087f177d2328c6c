// Finding a function again in another process. A child is a fresh `node`:
// it gets a target (a Process target, a Process subclass, a Barrier action)
// by importing the target's module and looking up one of its exports. This
// file works out, in the parent and before anything is spawned, which export
// that is -- or says what is wrong with the function and how to fix it.
//
// - A CommonJS module already loaded here is searched by identity in its
//   exports (require.cache), so `exports.f = () => {}` works although the
//   function has no name.
// - An ES module's namespace cannot be reached synchronously from here, so
//   its source is read and its exports lexed (es-module-lexer, which also
//   reads erasable TypeScript): the function is found by its name, as the
//   local name of an export (`export { work as job }` resolves to "job").
// - A CommonJS module still running its top level (a main script that
//   starts processes before its exports are all assigned) is read too, with
//   the lexer Node itself uses to find a CommonJS module's named exports
//   (cjs-module-lexer): a named function found there is looked up by that
//   name; one found nowhere, in a module whose exports the lexer can see
//   whole, is reported here.
// - Where none can decide (the source cannot be read or lexed, exports
//   assigned by computed names, `export * from`), the function's own name is
//   used, and the child reports a missing export (exit code 1).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe } from './validate';
import { state } from './identity';
import { findInLoadedCommonJs, findInSource, lexFile, type AnyFunction, type Found } from './module_exports';

export type { AnyFunction } from './module_exports';

export interface ResolvedExport {
  /** URL of the module the child imports. */
  module: string;
  /** The name the child looks up in that module's namespace ("default" for a default export). */
  exportName: string;
}

// A string with a scheme of two letters or more (file:, data:, node:, https:) is a URL.
const URL_LIKE = /^[A-Za-z][A-Za-z\d+.-]+:/;

/**
 * The URL of the module a function is looked up in: `module` as given (a
 * path, a file URL, import.meta.url), or by default the main script.
 */
export function moduleUrl(module: string | URL | undefined, what: string): string {
  if (module === undefined) {
    if (state.mainModule === undefined) {
      throw new TypeError(
        `cannot find the module that exports ${what}: there is no main script to import it from ` +
          '(code run with -e or in a REPL): pass { module: import.meta.url } or the path of the module that exports it',
      );
    }
    return pathToFileURL(state.mainModule).href;
  }
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') {
    throw new TypeError(`options.module must be a path, a file URL or import.meta.url, got ${describe(module)}`);
  }
  return URL_LIKE.test(module) ? module : pathToFileURL(path.resolve(module)).href;
}

/**
 * Reads and lexes a module ahead of its first start() (setSpareProcesses
 * calls it): loading the lexer and lexing cost ~10 ms once, which a program
 * that keeps spares for fast starts should not pay inside start().
 */
export function prepareExports(url: string): void {
  if (!url.startsWith('file:')) return;
  const file = fileURLToPath(url);
  if (lexFile(file) === undefined) lexFile(safeResolve(file));
}

function quoteName(fn: AnyFunction): string {
  return fn.name === '' ? 'an anonymous function' : `"${fn.name}"`;
}

/**
 * Which export of which module a child must look up to get `fn` back.
 * `module` is where it lives (a path, a file URL or import.meta.url; default:
 * the main script); `what` names it in messages ("the target", "the Barrier
 * action"), and `moduleOption` the option that says where it lives (for the
 * advice to pass it); `optionKey` is the option the function is passed in
 * (an inline `{ target: () => ... }` is named after it). Throws a TypeError
 * saying what is wrong and how to fix it for a function the module does not
 * export, an anonymous one it does not export, a bound function.
 */
export function resolveExport(
  fn: AnyFunction,
  module: string | URL | undefined,
  what: string,
  moduleOption = 'module',
  optionKey?: string,
): ResolvedExport {
  if (typeof fn !== 'function') throw new TypeError(`${what} must be a function, got ${describe(fn)}`);
  if (fn.name.startsWith('bound ')) {
    throw new TypeError(
      `${what} is a bound function ("${fn.name}"): a child process gets ${what} by importing its module ` +
        'and looking up the exported function, so a bound this or bound arguments cannot travel with it. ' +
        'Pass the exported function itself, and give it what you bound as arguments instead.',
    );
  }
  const url = moduleUrl(module, `${what} ${quoteName(fn)}`);
  let found: Found = 'unknown';
  let place = url;
  let commonJs = false;
  if (url.startsWith('file:')) {
    const file = fileURLToPath(url);
    place = file;
    if (!fs.existsSync(file) && safeResolve(file) === file) {
      const option = module === undefined ? 'the main script' : `options.${moduleOption}`;
      throw new TypeError(`cannot find the module that exports ${what} ${quoteName(fn)}: ${option} names ${file}, which does not exist`);
    }
    const loaded = findInLoadedCommonJs(file, fn);
    if (loaded) {
      found = loaded;
      commonJs = true;
    } else {
      const lexed = lexFile(file) ?? lexFile(safeResolve(file));
      if (lexed) found = findInSource(lexed, fn.name);
    }
  }
  if (typeof found === 'object') return { module: url, exportName: found.exportName };
  if (module === undefined) place += ' (the main script)';
  const why = (where: string): string => `a child process imports ${where} and looks ${what} up by its export name`;
  const elsewhere = module === undefined ? `, or pass { ${moduleOption} } naming the module that exports it` : '';
  if (fn.name === '') {
    const example = commonJs ? '`exports.work = (...) => { ... }`' : '`export function work(...) { ... }`';
    const notThere =
      found === 'absent'
        ? `, and ${place} does not export it`
        : commonJs
          ? `, and ${place} does not export it yet (assign its exports before it starts a process)`
          : '';
    throw new TypeError(
      `${what} is an anonymous function${notThere}: ${why(notThere ? 'that module' : place)}, ` +
        'so an inline function cannot be found there. ' +
        `Declare it in that module as ${example} and pass that function${elsewhere}.`,
    );
  }
  if (found === 'absent' && fn.name === optionKey) {
    const example = commonJs ? '`exports.work = (...) => { ... }`' : '`export function work(...) { ... }`';
    throw new TypeError(
      `${what} looks like an inline function (its name "${fn.name}" is only that of the option it was ` +
        `written in), and ${place} does not export it: ${why('that module')}, so an inline function cannot be found there. ` +
        `Declare it in that module as ${example} and pass that function${elsewhere}.`,
    );
  }
  if (found === 'absent') {
    const example = commonJs ? `\`exports.${fn.name} = ${fn.name}\`` : `\`export function ${fn.name}\` or \`export { ${fn.name} }\``;
    throw new TypeError(`${what} "${fn.name}" is not exported by ${place}: ${why('that module')}. Export it (${example})${elsewhere}.`);
  }
  // Undecidable here: look it up by its name, as the child will.
  return { module: url, exportName: fn.name };
}

function safeResolve(file: string): string {
  try {
    return require.resolve(file);
  } catch {
    return file;
  }
}

// The child's side of the resolver: the export a ResolvedExport names.

function exportIn(ns: Record<string, unknown> | undefined, exportName: string): unknown {
  if (!ns) return undefined;
  if (exportName in ns) return ns[exportName];
  // A CommonJS module seen through import(): its exports are the default.
  const cjs = ns.default as Record<string, unknown> | undefined;
  if (cjs && (typeof cjs === 'object' || typeof cjs === 'function') && exportName in cjs) return cjs[exportName];
  return undefined;
}

/** The export, if its module was already imported through importExport() (or preloaded by a spare). */
export function loadedExport(ref: ResolvedExport): unknown {
  return exportIn(state.loadedModules.get(ref.module), ref.exportName);
}

/**
 * Imports the module (once per process; isMainProcess() stays false and a
 * start() meanwhile is refused, see `bootstrapping`) and returns the export;
 * `missing` builds the error thrown when the module has no such export.
 */
export async function importExport(ref: ResolvedExport, missing: (ref: ResolvedExport) => Error): Promise<unknown> {
  let ns = state.loadedModules.get(ref.module);
  if (!ns) {
    const nested = state.bootstrapping;
    state.bootstrapping = true;
    try {
      ns = (await import(ref.module)) as Record<string, unknown>;
      state.loadedModules.set(ref.module, ns);
    } finally {
      state.bootstrapping = nested;
    }
  }
  const value = exportIn(ns, ref.exportName);
  if (value === undefined && !(ref.exportName in ns)) throw missing(ref);
  return value;
}
