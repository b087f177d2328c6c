// Waiting on a 32-bit word in shared memory: the primitive every
// synchronization type is built on (native/core/wait_cell.h has the layout:
// a wait cell is 8 bytes, the value then a count of announced sleepers).
//
//   waitSync  blocks the thread: spins for an adaptive budget, then sleeps.
//   wait      never blocks the event loop: a native waiter thread settles it.
//   wake / storeAndWake  issue a FUTEX_WAKE only if someone announced a sleep.
import { availableParallelism } from 'node:os';
import { AbortError } from '../base/errors';
import { validateTimeout } from '../base/validate';
import { addon } from '../binding/addon';
import type { NativeSegment, WaitOutcome } from '../binding/native';

export type { WaitOutcome };

export function waitSync(seg: NativeSegment, offset: number, expected: number, timeoutMs?: number): WaitOutcome {
  return addon().waitSync(seg, offset, expected, validateTimeout(timeoutMs));
}

let nextWaitId = 1;

export interface AsyncWaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

/** Rejects with an AbortError when `signal` aborts first. */
export async function wait(seg: NativeSegment, offset: number, expected: number, options: AsyncWaitOptions = {}): Promise<WaitOutcome> {
  const timeout = validateTimeout(options.timeout);
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('options.signal must be an AbortSignal');
  }
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const id = nextWaitId++;
  const pending = addon().wait(seg, offset, expected, timeout, id);
  if (!signal) return pending as Promise<WaitOutcome>;
  const onAbort = (): void => {
    addon().cancelWait(id);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await pending;
    if (outcome === 'cancelled') throw new AbortError(undefined, { cause: signal.reason });
    return outcome;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function wake(seg: NativeSegment, offset: number, count?: number): number {
  return addon().wake(seg, offset, count);
}

export function storeAndWake(seg: NativeSegment, offset: number, value: number, count?: number): number {
  return addon().storeAndWake(seg, offset, value, count);
}

export interface SpinPolicy {
  /** Longest a blocking wait spins before sleeping, in ns. 0 never spins. Default 50 000 (env MULTIPROC_SPIN_NS). */
  maxSpinNs: number;
  /** Shrink the budget while spins keep failing, regrow it when they succeed. Default true. */
  adaptive: boolean;
}

/**
 * How blocking waits (the `...Sync` methods) wait in this process: spin for a
 * bounded, adaptive budget, then sleep in the kernel. Spinning turns a
 * cross-process hand-off from tens of microseconds (waking a sleeping CPU)
 * into ~100 ns when the other side answers quickly; it is skipped while the
 * machine has had more runnable threads than cores for a while.
 */
export function getSpinPolicy(): SpinPolicy & { currentBudgetNs: number } {
  return addon().getSpinPolicy();
}

export function setSpinPolicy(policy: Partial<SpinPolicy>): void {
  if (typeof policy !== 'object' || policy === null) throw new TypeError('policy must be an object');
  const current = addon().getSpinPolicy();
  const maxSpinNs = policy.maxSpinNs ?? current.maxSpinNs;
  const adaptive = policy.adaptive ?? current.adaptive;
  for (const key of Object.keys(policy)) {
    if (key !== 'maxSpinNs' && key !== 'adaptive')
      throw new TypeError(`unknown spin policy option ${JSON.stringify(key)} (expected maxSpinNs, adaptive)`);
  }
  if (typeof maxSpinNs !== 'number' || Number.isNaN(maxSpinNs)) throw new TypeError('policy.maxSpinNs must be a number');
  if (!Number.isFinite(maxSpinNs) || maxSpinNs < 0 || maxSpinNs > 1e9) {
    throw new RangeError(`policy.maxSpinNs must be a number of nanoseconds from 0 to 1e9, got ${maxSpinNs}`);
  }
  if (typeof adaptive !== 'boolean') throw new TypeError('policy.adaptive must be a boolean');
  addon().setSpinPolicy(maxSpinNs, adaptive);
}

// Async waits may spin this long on the event loop before handing the wait
// to a waiter thread: an answer that comes within it costs ~1 us instead of
// two thread wake-ups (~30 us each on a VM). It is the sync waits' bound
// (50 us by default), because it must outlast a sleeping partner's wake-up:
// with 20 us, a partner that had fallen asleep answered too late, so this
// side slept too, so the partner's waits grew and it kept falling asleep --
// round trips settled at ~75 us instead of ~5 us. Unlike the sync budget it
// does not stop when the machine looks oversubscribed (on 2 vCPUs two
// spinning partners and any third thread trip that check); callers back off
// after misses instead.
// On one core a spin only keeps the partner from running: never spin there.
const MAX_LOOP_SPIN_NS = availableParallelism() > 1 ? 100_000 : 0;

/**
 * How long (ms) an async wait may spin on the event loop: the spin policy's
 * maxSpinNs, at most 100 us. Read each time (the policy is the process's,
 * and any thread may change it); only a wait that found nothing asks.
 */
export function eventLoopSpinMs(): number {
  return Math.min(addon().getSpinPolicy().maxSpinNs, MAX_LOOP_SPIN_NS) / 1e6;
}
