// Who this process is: the main process, or a child started by multiproc
// (then the bootstrap fills this in before the user's module is imported).
import { randomBytes } from 'node:crypto';
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
  /** Python's authkey: random in the main process (made on first use), inherited by children. */
  authkey: Buffer | undefined;
  /** True while a child's start payload is written: handles may carry what only a child should get (an authkey). */
  spawning: boolean;
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
  authkey: undefined,
  spawning: false,
};

/**
 * This process's authentication key (Python's current_process().authkey):
 * what a Manager that is given none authenticates its remote clients with.
 * Random (32 bytes) in the main process, the parent's in a child.
 */
export function processAuthkey(): Buffer {
  state.authkey ??= randomBytes(32);
  return Buffer.from(state.authkey);
}

/** Sets this process's authkey (Python's current_process().authkey = ...): children started afterwards inherit it. */
export function setProcessAuthkey(key: string | Uint8Array): void {
  if (typeof key === 'string') key = Buffer.from(key, 'utf8');
  if (!(key instanceof Uint8Array) || key.length === 0) throw new TypeError('the authkey must be a non-empty string or Uint8Array');
  state.authkey = Buffer.from(key);
}

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
