// Waits written once. A synchronization type writes its wait as a generator
// of steps -- "sleep while this word holds that value, at most so long", "run
// the action now" -- and two drivers carry it out: driveSync() blocks the
// thread (the addon spins, then sleeps),
// drive() never blocks the event loop (a native waiter thread settles each
// sleep) and takes an AbortSignal. The generator holds the logic once: its
// deadline, its checks for dead partners, its clean-up. An abort is thrown
// into the generator at the step it is waiting in, so its try/finally and
// catch blocks clean up as they would for any error.
import { addon } from '../binding/addon';
import type { NativeSegment, WaitOutcome } from '../binding/native';
import { wait } from './wait';

/** Sleep while the 32-bit word at byte `offset` of the segment holds `expected`, for at most `timeout` ms (undefined: no limit). */
export interface Sleep {
  readonly sleep: number;
  readonly expected: number;
  readonly timeout: number | undefined;
}

/**
 * Run a callback: a Barrier's action, or the two faces of one operation (a
 * Condition taking its lock back): driveSync() calls `run`, drive() awaits
 * `runAsync` if there is one, else `run`.
 */
export interface RunAction {
  readonly run: () => unknown;
  readonly runAsync?: () => Promise<unknown>;
}

export type Step = Sleep | RunAction;

/** What a step gives back: a sleep's outcome, or the error an action threw (undefined when it did not). */
export type StepResult = WaitOutcome | { readonly failure: unknown };

export type WaitSteps<R> = Generator<Step, R, StepResult>;

export const sleep = (offset: number, expected: number, timeout: number | undefined): Sleep => ({ sleep: offset, expected, timeout });

/**
 * The hand-off's fast path, before a wait sets up its deadline and steps:
 * up to `loads` loads of the word (~1 ns each, no clock), true once it no
 * longer holds `expected`. A partner that answers within a microsecond or so
 * is met here, at the cost of the C floor rather than of an addon call.
 */
export function spinWhile(i32: Int32Array, index: number, expected: number, loads = 1024): boolean {
  for (let i = 0; i < loads; i++) if (Atomics.load(i32, index) !== expected) return true;
  return false;
}

/**
 * Blocks the thread until the steps are done. Each sleep is one addon call,
 * which spins (its adaptive budget) before it sleeps; the types whose sync
 * waits are hand-offs spin in JS first, before they set up their steps
 * (spinWhile), so no step spins twice in JS.
 */
export function driveSync<R>(segment: NativeSegment, steps: WaitSteps<R>): R {
  const native = addon();
  let r = steps.next();
  while (!r.done) {
    const step = r.value;
    if ('run' in step) {
      let failure: unknown;
      try {
        step.run();
      } catch (e) {
        failure = e;
      }
      r = steps.next({ failure });
      continue;
    }
    let outcome: WaitOutcome;
    try {
      outcome = native.waitSync(segment, step.sleep, step.expected, step.timeout);
    } catch (e) {
      // The addon refused (a segment gone bad): the generator cleans up, as for an abort.
      r = steps.throw(e);
      continue;
    }
    r = steps.next(outcome);
  }
  return r.value;
}

/** Carries the steps out without blocking the event loop; an abort of `signal` is thrown into them. */
export async function drive<R>(segment: NativeSegment, steps: WaitSteps<R>, signal?: AbortSignal): Promise<R> {
  let r = steps.next();
  let abortable = signal;
  while (!r.done) {
    const step = r.value;
    let result: StepResult;
    try {
      if ('run' in step) {
        let failure: unknown;
        try {
          await (step.runAsync ?? step.run)();
        } catch (e) {
          failure = e;
        }
        result = { failure };
      } else {
        result = await wait(segment, step.sleep, step.expected, { timeout: step.timeout, signal: abortable });
      }
    } catch (e) {
      // The abort: the generator cleans up (or turns it into its own error).
      // Its clean-up may wait too (for a lock): that is not aborted again.
      abortable = undefined;
      r = steps.throw(e);
      continue;
    }
    r = steps.next(result);
  }
  return r.value;
}
