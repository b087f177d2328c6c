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
// The package's types are an ES module's; its code is loaded through require (dist/lexer.cjs).
import type * as EsModuleLexer from 'es-module-lexer' with { 'resolution-mode': 'require' };
import type * as CjsModuleLexer from 'cjs-module-lexer';
import { describe } from './validate';
import { state } from './identity';

// Any function: a target, a Process subclass, a Barrier action.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type AnyFunction = Function;

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

/** What a look-up in one module found: an export name, nothing (sure of it), or no answer. */
type Found = { exportName: string } | 'absent' | 'unknown';

interface Lexed {
  /** Direct exports: [exported name, local name (null: an anonymous default or an expression)]. */
  direct: Array<[string, string | null]>;
  /** `export default <identifier>`: that identifier. */
  defaultIdentifier: string | undefined;
  /** Re-exports: [exported name, imported name]. */
  reexports: Array<[string, string | null]>;
  /** `export * from`: any name may come from there. */
  reexportsAll: boolean;
  /** Import/export syntax (or .mjs/.mts): an ES module, whose lexed exports are all there is. */
  esm: boolean;
}

// Lexing is ~1 ms per 100 KB; a program that starts many processes from
// one main script reads it once, again only if it changes.
const lexedFiles = new Map<string, { mtimeMs: number; size: number; lexed: Lexed | undefined }>();
let lexer: typeof EsModuleLexer | undefined;

/** The exports in a module's source; undefined when it cannot be read or lexed. */
function lexFile(file: string): Lexed | undefined {
  let stat: fs.Stats;
  let source: string;
  try {
    stat = fs.statSync(file);
    const cached = lexedFiles.get(file);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.lexed;
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lexed = lexSource(source, file);
  lexedFiles.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, lexed });
  return lexed;
}

function lexSource(source: string, file: string): Lexed | undefined {
  // Loaded on first use: a child that never starts a process does not pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  lexer ??= require('es-module-lexer') as typeof EsModuleLexer;
  let parsed: ReturnType<typeof lexer.parse>;
  try {
    // Synchronous: in Node, parse() compiles the lexer's Wasm itself when init() was not awaited.
    parsed = lexer.parse(source, file);
  } catch {
    return undefined; // not JavaScript it can read (JSX, non-erasable TypeScript ...)
  }
  const [, exports, , hasModuleSyntax] = parsed;
  const lexed: Lexed = {
    direct: [],
    defaultIdentifier: undefined,
    reexports: [],
    reexportsAll: false,
    esm: hasModuleSyntax || /\.m[jt]s$/.test(file),
  };
  for (const e of exports) {
    if (e.typeOnly) continue;
    if (e.type === 'direct') {
      lexed.direct.push([e.name, e.localName ?? null]);
      if (e.name === 'default' && !e.localName) {
        // `export default work;` has no local name in the lexer's eyes: read the expression.
        lexed.defaultIdentifier = /^\s+([A-Za-z_$][\w$]*)\s*(?:;|$|\n|\/[/*])/.exec(source.slice(e.end))?.[1];
      }
    } else if (e.type === 'reexport') {
      lexed.reexports.push([e.name, e.importName]);
    } else {
      lexed.reexportsAll = true;
    }
  }
  return lexed;
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

/** By name in an ES module's lexed exports. */
function findInSource(lexed: Lexed, name: string): Found {
  if (name !== '') {
    const byLocal = lexed.direct.filter(([, local]) => local === name);
    if (byLocal.length > 0) return { exportName: (byLocal.find(([exported]) => exported === name) ?? byLocal[0])[0] };
    if (lexed.defaultIdentifier === name) return { exportName: 'default' };
    // `export default () => {}` and `export default function () {}` are named "default".
    if (name === 'default' && lexed.direct.some(([exported, local]) => exported === 'default' && local === null)) {
      return { exportName: 'default' };
    }
    // Re-exported from elsewhere: the name is all there is to go by.
    if (lexed.reexports.some(([exported]) => exported === name)) return { exportName: name };
    const renamed = lexed.reexports.filter(([, imported]) => imported === name);
    if (renamed.length === 1) return { exportName: renamed[0][0] };
  }
  if (lexed.reexportsAll && name !== '') return 'unknown';
  return lexed.esm ? 'absent' : 'unknown';
}

function findInExports(exports: unknown, fn: AnyFunction): Found | undefined {
  if (exports === fn) return { exportName: 'default' }; // module.exports = function ...
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return undefined;
  const bag = exports as Record<string, unknown>;
  const read = (key: string): unknown => {
    try {
      return bag[key]; // a getter (a transpiled re-export) may throw
    } catch {
      return undefined;
    }
  };
  if (fn.name !== '' && Object.prototype.hasOwnProperty.call(bag, fn.name) && read(fn.name) === fn) {
    return { exportName: fn.name };
  }
  for (const key of Object.keys(bag)) {
    if (read(key) === fn) return { exportName: key };
  }
  return undefined;
}

/** By identity among a CommonJS module's exports, if it was loaded in this process. */
function findInLoadedCommonJs(file: string, fn: AnyFunction): Found | undefined {
  let filename: string;
  try {
    // Resolves the extension and symlinks as the CommonJS loader did for its cache key.
    filename = require.resolve(file);
  } catch {
    return undefined;
  }
  const loaded = require.cache[filename];
  if (!loaded) return undefined;
  const found = findInExports(loaded.exports, fn);
  if (found) return found;
  // Still running its top level: the exports may be assigned further down.
  return loaded.loaded ? 'absent' : findInCommonJsSource(filename, fn.name);
}

// Exports a lexer cannot list: assigned by computed name, copied in bulk,
// or the whole module.exports replaced by something other than an object literal.
const DYNAMIC_EXPORTS = /\bexports\s*\[|Object\.(?:assign|defineProperties)\s*\(\s*(?:module\.)?exports\b|\bmodule\.exports\s*=\s*(?!\{)/;
let cjsLexer: typeof CjsModuleLexer | undefined;

/** By name in a CommonJS module's source (for one still loading). */
function findInCommonJsSource(file: string, name: string): Found {
  if (name === '') return 'unknown';
  let source: string;
  let parsed: { exports: string[]; reexports: string[] };
  try {
    source = fs.readFileSync(file, 'utf8');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cjsLexer ??= require('cjs-module-lexer') as typeof CjsModuleLexer; // its JavaScript build: synchronous
    parsed = cjsLexer.parse(source, file);
  } catch {
    return 'unknown';
  }
  if (parsed.exports.includes(name)) return { exportName: name };
  return parsed.reexports.length > 0 || DYNAMIC_EXPORTS.test(source) ? 'unknown' : 'absent';
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
