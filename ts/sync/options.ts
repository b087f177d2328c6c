// Validation of the options every blocking method takes, in one place.
import { AbortError } from '../errors';
import { describe } from '../names';
import { validateTimeout } from '../wait';

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

function checkKeys(options: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (expected ${allowed.join(', ')})`);
  }
}

/** Milliseconds to wait (0: do not wait, Infinity: forever). */
export function syncTimeout(options: SyncOptions | undefined, what: string): number {
  if (options === undefined) return Infinity;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  checkKeys(options, ['block', 'timeout'], what);
  const { block = true } = options;
  if (typeof block !== 'boolean') throw new TypeError(`options.block must be a boolean, got ${describe(block)}`);
  const timeout = validateTimeout(options.timeout, 'options.timeout');
  if (!block) return 0;
  return timeout ?? Infinity;
}

export function asyncOptions(options: AsyncOptions | undefined, what: string): { timeout: number; signal: AbortSignal | undefined } {
  if (options === undefined) return { timeout: Infinity, signal: undefined };
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  checkKeys(options, ['timeout', 'signal'], what);
  const timeout = validateTimeout(options.timeout, 'options.timeout') ?? Infinity;
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  return { timeout, signal };
}

/** A plain timeout argument (Event.wait(ms), Condition.wait(ms)): undefined means forever. */
export function msArgument(timeoutMs: unknown, what = 'timeoutMs'): number {
  return validateTimeout(timeoutMs, what) ?? Infinity;
}

/** Remaining time until `deadline` (performance.now() based), for the addon (undefined: forever). */
export function remaining(deadline: number): number | undefined {
  if (deadline === Infinity) return undefined;
  return Math.max(0, deadline - performance.now());
}

export const deadlineAfter = (ms: number): number => (ms === Infinity ? Infinity : performance.now() + ms);
