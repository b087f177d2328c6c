// Who this process is: the main process, or a child started by multiproc
// (then the bootstrap fills this in before the user's module is imported).
import os from 'node:os';
import path from 'node:path';

export interface ProcessIdentity {
  name: string;
  pid: number;
  daemon: boolean;
}

interface State {
  name: string;
  daemon: boolean;
  /** Python's _identity: [] in the main process, [1] for Process-1, [1, 2] for its second child. */
  identity: number[];
  childCounter: number;
  parent: { name: string; pid: number } | null;
  /** The module a target is looked up in by default: the main script. */
  mainModule: string | undefined;
  /** True while a child imports its target's module (scripts must not start processes then). */
  bootstrapping: boolean;
  /** Namespaces of the modules the bootstrap imported, by URL (to find exported functions in handles). */
  loadedModules: Map<string, Record<string, unknown>>;
}

function mainScript(): string | undefined {
  const main = process.argv[1];
  return main ? path.resolve(main) : undefined;
}

export const state: State = {
  name: 'MainProcess',
  daemon: false,
  identity: [],
  childCounter: 0,
  parent: null,
  mainModule: mainScript(),
  bootstrapping: false,
  loadedModules: new Map(),
};

export const currentName = (): string => state.name;

/** This process: 'MainProcess' in the main one. */
export function currentProcess(): ProcessIdentity {
  return { name: state.name, pid: process.pid, daemon: state.daemon };
}

/** The process that started this one, or null in the main process. */
export function parentProcess(): { name: string; pid: number } | null {
  return state.parent ? { ...state.parent } : null;
}

/**
 * False while a child process imports the main script to find its target:
 * guard a script's top-level work with `if (isMainProcess()) { ... }`, as
 * Python scripts use `if __name__ == '__main__'`.
 */
export function isMainProcess(): boolean {
  return state.parent === null;
}

export function cpuCount(): number {
  return os.availableParallelism();
}
