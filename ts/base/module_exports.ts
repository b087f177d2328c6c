// Looking a function up among a module's exports, for modules.ts: by
// identity in a loaded CommonJS module's exports, by name in an ES module's
// lexed exports (es-module-lexer) or in the source of a CommonJS module still
// running its top level (cjs-module-lexer). Each answers with an export name,
// "absent" (sure it is not exported) or "unknown" (cannot tell).
import fs from 'node:fs';
// The package's types are an ES module's; its code is loaded through require (dist/lexer.cjs).
import type * as EsModuleLexer from 'es-module-lexer' with { 'resolution-mode': 'require' };
import type * as CjsModuleLexer from 'cjs-module-lexer';

// Any function: a target, a Process subclass, a Barrier action.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type AnyFunction = Function;

/** What a look-up in one module found: an export name, nothing (sure of it), or no answer. */
export type Found = { exportName: string } | 'absent' | 'unknown';

export interface Lexed {
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
export function lexFile(file: string): Lexed | undefined {
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

/** By name in an ES module's lexed exports. */
export function findInSource(lexed: Lexed, name: string): Found {
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
export function findInLoadedCommonJs(file: string, fn: AnyFunction): Found | undefined {
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
