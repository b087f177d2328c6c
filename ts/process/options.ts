// What `new Process()` takes: the option types (args checked against the
// target's parameters) and their run-time check; and how an exit code reads.
import { constants } from 'node:os';
import { describe } from '../base/validate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Target = (...args: any[]) => unknown;

interface CommonOptions<F extends Target> {
  /** An exported function: the child imports its module and finds it by name. */
  target?: F;
  /** Default 'Process-N'. */
  name?: string;
  /** Killed when this process exits, however it exits; does not keep the event loop alive. Default false. */
  daemon?: boolean;
  /** The module that exports `target` (a path, file URL or import.meta.url). Default: the main script. */
  module?: string | URL;
}

interface OptionalArgs<F extends Target> {
  /** The target's arguments: structured clone; shared objects travel as handles. */
  args?: Parameters<F>;
}

interface RequiredArgs<F extends Target> {
  /** The target's arguments: structured clone; shared objects travel as handles. */
  args: Parameters<F>;
}

// `args` is checked against the target's parameters, and may be left out
// only when the target can be called without arguments (the child calls
// target(...args), so a missing one would arrive as undefined). F is
// inferred from `target` alone: a conditional type is no inference site.
type ArgsOption<F extends Target> = [] extends Parameters<F> ? OptionalArgs<F> : RequiredArgs<F>;

/** Options of `new Process()`; with a target F, `args` are F's parameters. */
export type ProcessOptions<F extends Target = Target> = CommonOptions<F> & ArgsOption<F>;

const OPTION_KEYS = new Set(['target', 'args', 'name', 'daemon', 'module']);

export function exitCodeName(code: number): string {
  if (code < 0) {
    const name = Object.entries(constants.signals).find(([, n]) => n === -code)?.[0];
    if (name) return name;
  }
  return String(code);
}

/** Checks `new Process()`'s options at run time (for JavaScript callers and casts). */
export function checkProcessOptions(options: ProcessOptions): {
  target: Target | undefined;
  args: unknown[];
  name: string | undefined;
  daemon: boolean | undefined;
  module: string | URL | undefined;
} {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Process options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`unknown Process option ${JSON.stringify(key)}`);
  }
  const { target, args = [], name, daemon, module } = options;
  if (target !== undefined && typeof target !== 'function') {
    throw new TypeError(`options.target must be a function, got ${describe(target)}`);
  }
  if (!Array.isArray(args)) throw new TypeError(`options.args must be an array, got ${describe(args)}`);
  if (name !== undefined && typeof name !== 'string') throw new TypeError(`options.name must be a string, got ${describe(name)}`);
  if (daemon !== undefined && typeof daemon !== 'boolean') {
    throw new TypeError(`options.daemon must be a boolean, got ${describe(daemon)}`);
  }
  if (module !== undefined && !(module instanceof URL) && typeof module !== 'string') {
    throw new TypeError(`options.module must be a path, a file URL or import.meta.url, got ${describe(module)}`);
  }
  return { target, args, name, daemon, module };
}
