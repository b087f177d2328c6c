// The options of a Pool and of its calls, checked once, here.
import { checkKeys, describe, validateTimeout } from '../base/validate';
import type { AnyFunction } from '../base/modules';
import type { CallLimits } from './calls';

export interface PoolOptions {
  /** Runs once in each worker before its first task (an exported function, found like a task function). */
  initializer?: AnyFunction;
  initargs?: unknown[];
  /** Tasks (chunks, for a map) a worker runs before it is replaced; default: no limit. */
  maxTasksPerChild?: number;
  /** The module task functions are exported from (path, URL, import.meta.url). Default: the main script. */
  module?: string | URL;
  /** Tasks waiting for a worker before new calls wait for room (backpressure). Default: no limit. */
  maxQueue?: number;
  /**
   * Where the tasks run: this machine's worker processes (default, `{ type: 'local' }`), or
   * another registered backend -- `{ type: 'bullmq', connection, queue, ... }` runs them on
   * `npx multiproc worker` hosts through BullMQ and Redis (see "From one machine to many").
   */
  backend?: BackendOptions;
}

/**
 * The options of each kind of backend, by its type. A backend registered by a layer above adds
 * its own here (declaration merging), so that `backend` is checked against its options.
 */
export interface BackendTypes {
  local: { type: 'local' };
}

/** A backend and its own options. */
export type BackendOptions = BackendTypes[keyof BackendTypes];

export interface TaskOptions {
  /** Aborting rejects the call with an AbortError and stops its tasks (their workers are replaced). */
  signal?: AbortSignal;
  /** Milliseconds for the whole call; past it, the call rejects with TimeoutError and its tasks are stopped. */
  timeout?: number;
  /** The module the task function is exported from, for this call. */
  module?: string | URL;
  /** How many deaths of the worker running a task the task may survive (sent again each time): for idempotent tasks. Default 0. */
  retries?: number;
}

export interface MapOptions extends TaskOptions {
  /** Inputs per task. Default: map ceil(n / (4 * processes)) when n is known, imap 1. */
  chunksize?: number;
  /** Called after each finished chunk with the inputs done so far and the total, when known. */
  onProgress?: (done: number, total: number | undefined) => void;
}

export interface Callbacks<R> {
  callback?: (result: R) => void;
  errorCallback?: (error: Error) => void;
}

function count(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what} must be an integer, got ${describe(value)}`);
  if (value < min) throw new RangeError(`${what} must be at least ${min}, got ${value}`);
  return value;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new TypeError(`${what} must be an object, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

export function checkProcesses(processes: unknown, fallback: number): number {
  if (processes === undefined || processes === null) return fallback;
  return count(processes, 'processes', 1);
}

/** `keywordStyle`: the options came in one object with `processes` (taken out already), which the error lists too. */
export function checkPoolOptions(
  value: unknown,
  keywordStyle = false,
): Required<Pick<PoolOptions, 'initargs'>> & PoolOptions & { maxQueue: number; maxTasksPerChild: number } {
  const options = object(value, 'Pool options');
  const keys = ['initializer', 'initargs', 'maxTasksPerChild', 'module', 'maxQueue', 'backend'];
  checkKeys(options, keywordStyle ? ['processes', ...keys] : keys, 'Pool');
  const { initializer, initargs = [], module } = options;
  if (initializer !== undefined && typeof initializer !== 'function')
    throw new TypeError(`options.initializer must be a function, got ${describe(initializer)}`);
  if (!Array.isArray(initargs)) throw new TypeError(`options.initargs must be an array, got ${describe(initargs)}`);
  if (module !== undefined && typeof module !== 'string' && !(module instanceof URL))
    throw new TypeError(`options.module must be a path or URL, got ${describe(module)}`);
  const backend = options.backend;
  if (backend !== undefined && (typeof backend !== 'object' || backend === null || typeof (backend as BackendOptions).type !== 'string'))
    throw new TypeError(`options.backend must be { type: 'local' } or { type: 'bullmq', ... }, got ${describe(backend)}`);
  return {
    initializer: initializer,
    initargs,
    module: module,
    backend: backend as BackendOptions | undefined,
    maxTasksPerChild: options.maxTasksPerChild === undefined ? 0 : count(options.maxTasksPerChild, 'options.maxTasksPerChild', 1),
    maxQueue: options.maxQueue === undefined ? Infinity : count(options.maxQueue, 'options.maxQueue', 1),
  };
}

const TASK_KEYS = ['signal', 'timeout', 'module', 'retries'];

/** A call's options: `extra` names what this method takes beyond TaskOptions. */
export function checkCallOptions(
  value: unknown,
  what: string,
  extra: readonly string[] = [],
): CallLimits & { module: string | URL | undefined; rest: Record<string, unknown> } {
  const options = object(value, `${what} options`);
  checkKeys(options, [...TASK_KEYS, ...extra], what);
  const { signal, module } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (module !== undefined && typeof module !== 'string' && !(module instanceof URL))
    throw new TypeError(`options.module must be a path or URL, got ${describe(module)}`);
  const rest: Record<string, unknown> = {};
  for (const key of extra) rest[key] = options[key];
  for (const key of ['callback', 'errorCallback', 'onProgress']) {
    if (rest[key] !== undefined && typeof rest[key] !== 'function')
      throw new TypeError(`options.${key} must be a function, got ${describe(rest[key])}`);
  }
  if (rest.chunksize !== undefined) count(rest.chunksize, 'options.chunksize', 1);
  return {
    timeout: validateTimeout(options.timeout, 'options.timeout') ?? Infinity,
    signal: signal,
    retries: options.retries === undefined ? 0 : count(options.retries, 'options.retries', 0),
    module: module,
    rest,
  };
}

/** map(fn, it, 4) is map(fn, it, { chunksize: 4 }), as in Python. */
export function mapOptions(value: unknown): unknown {
  return typeof value === 'number' ? { chunksize: value } : value;
}
