// Validation of what users pass: the options every blocking method takes,
// timeouts and deadlines, and how a bad value is described in an error.
import { AbortError } from './errors';

/** A value as an error message shows it: a string quoted, an object by its class. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  // A function by its name, not its source text.
  if (typeof value === 'function') return `function ${(value as { name?: string }).name || '(anonymous)'}`;
  return `${typeof value} ${(value as number | boolean | bigint | symbol).toString()}`;
}

/** A timeout in milliseconds: any non-negative number, Infinity included; undefined/null: none. */
export function validateTimeout(timeout: unknown, what = 'timeout'): number | undefined {
  if (timeout === undefined || timeout === null) return undefined;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new TypeError(`${what} must be a number of milliseconds, got ${typeof timeout === 'number' ? 'NaN' : typeof timeout}`);
  }
  if (timeout < 0) throw new RangeError(`${what} must not be negative, got ${timeout}`);
  return timeout;
}

export interface SyncOptions {
  /** false: do not wait at all. Default true. */
  block?: boolean;
  /** Milliseconds; default: wait forever. */
  timeout?: number;
}

export interface AsyncOptions {
  /** Milliseconds; default: wait forever. */
  timeout?: number;
  /** Aborting rejects the pending call with an AbortError. */
  signal?: AbortSignal;
}

export function checkKeys(options: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (expected ${allowed.join(', ')})`);
  }
}

/** Milliseconds to wait (0: do not wait, Infinity: forever). */
export function syncTimeout(options: SyncOptions | number | undefined, what: string): number {
  if (options === undefined) return Infinity;
  if (typeof options === 'number') return validateTimeout(options, 'timeout') ?? Infinity; // a number is the timeout in ms
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  checkKeys(options, ['block', 'timeout'], what);
  const { block = true } = options;
  if (typeof block !== 'boolean') throw new TypeError(`options.block must be a boolean, got ${describe(block)}`);
  const timeout = validateTimeout(options.timeout, 'options.timeout');
  if (!block) return 0;
  return timeout ?? Infinity;
}

export function asyncOptions(
  options: AsyncOptions | number | undefined,
  what: string,
): { timeout: number; signal: AbortSignal | undefined } {
  if (options === undefined) return { timeout: Infinity, signal: undefined };
  if (typeof options === 'number') return { timeout: validateTimeout(options, 'timeout') ?? Infinity, signal: undefined };
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  return waitArguments(options, undefined, what);
}

/** A plain timeout argument (Event.wait(ms), Condition.wait(ms)): undefined means forever. */
export function msArgument(timeoutMs: unknown, what = 'timeoutMs'): number {
  return validateTimeout(timeoutMs, what) ?? Infinity;
}

/** How long a blocking wait may take: `{ timeout }` in ms. */
export interface SyncWaitOptions {
  /** Milliseconds; default: wait forever (or the object's default timeout). */
  timeout?: number;
}

/** How long a wait may take, and what may cancel it. */
export interface WaitOptions extends SyncWaitOptions {
  /** Aborting rejects the pending call with an AbortError. */
  signal?: AbortSignal;
}

/**
 * The arguments of a wait that takes a timeout Python's way (`wait(ms)`) or
 * JavaScript's (`wait({ timeout, signal })`), or both (`wait(ms, { signal })`).
 * undefined timeout: `fallback` (forever unless the object has a default).
 */
export function waitArguments(
  first: unknown,
  second: unknown,
  what: string,
  withSignal = true,
  fallback = Infinity,
): { timeout: number; signal: AbortSignal | undefined } {
  let options: WaitOptions = {};
  let timeout: unknown;
  if (typeof first === 'object' && first !== null) {
    if (second !== undefined) throw new TypeError(`${what}: give the options once (got an options object and a second argument)`);
    options = first;
    timeout = options.timeout;
  } else {
    timeout = first;
    if (second !== undefined) {
      if (typeof second !== 'object' || second === null) throw new TypeError(`${what} options must be an object, got ${describe(second)}`);
      options = second;
      if (options.timeout !== undefined)
        throw new TypeError(`${what}: give the timeout once (as the first argument or as options.timeout)`);
    }
  }
  checkKeys(options, withSignal ? ['timeout', 'signal'] : ['timeout'], what);
  const ms = validateTimeout(timeout, typeof first === 'object' && first !== null ? 'options.timeout' : 'timeout') ?? fallback;
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  return { timeout: ms, signal };
}

/** Remaining time until `deadline` (performance.now() based), for the addon (undefined: forever). */
export function remaining(deadline: number): number | undefined {
  if (deadline === Infinity) return undefined;
  return Math.max(0, deadline - performance.now());
}

export const deadlineAfter = (ms: number): number => (ms === Infinity ? Infinity : performance.now() + ms);

/** A promise, or anything `await` treats as one. */
export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  ((typeof v === 'object' && v !== null) || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';

export function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof (value as Iterable<unknown> | null)?.[Symbol.iterator] === 'function';
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}
