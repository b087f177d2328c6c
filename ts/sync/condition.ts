// Condition: Python's multiprocessing.Condition over a Lock or RLock (an RLock
// by default).
//
// Shared state: one entry per waiting call (entries.ts: who waits, and a
// wait cell of its own it sleeps on), and an arrival counter. wait() takes
// an entry (under the lock), notes its arrival number and sleeps on its own
// cell. notify(n) marks the n oldest waiting entries notified, records when
// (the arrival counter then), and wakes exactly those cells. So notify(n)
// wakes at most n waiters, in arrival order.
//
// Death: a waiter that was killed leaves its entry behind. If a notify
// marked it, the notification would be lost, so waiters, while they sleep,
// look every 20 ms for notified entries whose thread is gone and pass each
// such notification on to the oldest waiter that was already waiting when it
// was given (or drop it, if there is none: no live waiter was there to get
// it). Python counts a dead waiter for ever, and a later notify(1) wakes two.
//
// Owner death: a waiter also checks whether the lock's holder died holding
// it; if so it takes the lock over (the lock's ownerDied becomes true) and
// returns, instead of waiting for a notify that can never come.
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../share/handles';
import { drive, driveSync, sleep, type WaitSteps } from '../wait/driver';
import { Kind, WAITER } from '../binding/layout';
import { Lock, RLock, type AnyLock } from './lock';
import {
  deadlineAfter,
  describe,
  remaining,
  waitArguments,
  type AsyncOptions,
  type SyncOptions,
  type SyncWaitOptions,
  type WaitOptions,
} from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';
import { WORDS, Waiters, type Outcome } from './condition_waiters';

const LIVENESS_SLICE_MS = 20;

const revived = new Handoff<SharedState>();

export class Condition implements Shareable {
  readonly #lock: AnyLock;
  readonly #state: SharedState;
  readonly #waiters: Waiters;

  constructor(lock?: Lock | RLock) {
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(`Condition takes a Lock or an RLock, got ${describe(lock)}`);
    }
    this.#lock = lock ?? new RLock();
    this.#state = revived.take() ?? SharedState.createOrOpen(Kind.Condition, WORDS, undefined, () => {});
    this.#waiters = new Waiters(this.#state);
    remember(this.#state, this);
  }

  /** The underlying lock. */
  get lock(): AnyLock {
    return this.#lock;
  }

  acquire(options?: AsyncOptions | number): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  acquireSync(options?: SyncOptions | number): boolean {
    return this.#lock.acquireSync(options);
  }

  release(): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, waits for a notify (or timeoutMs), re-acquires the
   * lock. Resolves true when notified, false on timeout. The caller must hold
   * the lock. An aborted `signal` rejects with an AbortError once the lock is
   * held again (a notification that came meanwhile goes to the next waiter).
   */
  async wait(timeout?: number | WaitOptions, options?: WaitOptions): Promise<boolean> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'Condition.wait');
    return drive(this.#state.segment, this.#steps(deadlineAfter(ms)), signal);
  }

  /** wait() that blocks the thread. */
  waitSync(timeout?: number | SyncWaitOptions): boolean {
    const { timeout: ms } = waitArguments(timeout, undefined, 'Condition.waitSync', false);
    return driveSync(this.#state.segment, this.#steps(deadlineAfter(ms)));
  }

  // The wait, for both drivers: release the lock, sleep on this waiter's
  // entry until notified (passing on notifications that dead waiters were
  // given, taking the lock over from a holder that died), then take the lock
  // back -- also when the wait ends by an abort.
  *#steps(deadline: number): WaitSteps<boolean> {
    const { entry, depth } = this.#beginWait();
    let outcome: Outcome = 'timeout';
    let aborted: unknown;
    let relock: unknown; // what taking the lock back threw, if it did
    try {
      const state = this.#waiters.stateWord(entry);
      for (;;) {
        if (this.#waiters.notified(entry)) {
          outcome = 'notified';
          break;
        }
        const left = remaining(deadline);
        if (left === 0) break;
        const r = yield sleep(state * 4, WAITER.waiting, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (r === 'timed-out') {
          if (this.#takeOverFromDeadHolder()) {
            outcome = 'took-over';
            break;
          }
          this.#waiters.passOnLost(entry);
        }
      }
    } catch (e) {
      aborted = e;
    } finally {
      outcome = this.#waiters.leave(entry, outcome, aborted !== undefined);
      if (outcome !== 'took-over') {
        const lock = this.#lock;
        ({ failure: relock } = (yield { run: () => lock.acquireSync(), runAsync: () => lock.acquire() }) as { failure: unknown });
      }
      if (relock === undefined) this.#lock._restore(depth);
    }
    if (relock !== undefined) throw relock as Error; // rethrown as caught
    if (aborted !== undefined) throw aborted as Error; // rethrown as caught
    return outcome !== 'timeout';
  }

  /** Waits until predicate() is truthy (checked first, then after each wake); returns its last value. */
  async waitFor<T>(predicate: () => T, timeout?: number | WaitOptions, options?: WaitOptions): Promise<T> {
    if (typeof predicate !== 'function') throw new TypeError('waitFor() takes a predicate function');
    const { timeout: ms, signal } = waitArguments(timeout, options, 'Condition.waitFor');
    return drive(this.#state.segment, this.#waitForSteps(predicate, deadlineAfter(ms)), signal);
  }

  /** waitFor() that blocks the thread. */
  waitForSync<T>(predicate: () => T, timeout?: number | SyncWaitOptions): T {
    if (typeof predicate !== 'function') throw new TypeError('waitForSync() takes a predicate function');
    const { timeout: ms } = waitArguments(timeout, undefined, 'Condition.waitForSync', false);
    return driveSync(this.#state.segment, this.#waitForSteps(predicate, deadlineAfter(ms)));
  }

  *#waitForSteps<T>(predicate: () => T, deadline: number): WaitSteps<T> {
    let result = predicate();
    while (!result && remaining(deadline) !== 0) {
      yield* this.#steps(deadline);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to n waiters, oldest first. The caller must hold the lock. */
  notify(n = 1): void {
    if (typeof n !== 'number' || !(Number.isInteger(n) || n === Infinity) || n < 0) {
      throw new RangeError(`n must be a non-negative integer, got ${describe(n)}`);
    }
    this.#requireOwned('notify');
    if (n > 0) this.#waiters.notify(n);
  }

  /** Wakes every waiter. The caller must hold the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  #requireOwned(what: string): void {
    if (!this.#lock._isMine()) throw new Error(`cannot ${what}() on a Condition whose lock this thread does not hold`);
  }

  #beginWait(): { entry: number; depth: number } {
    this.#requireOwned('wait');
    // The entry is set up before the lock is released: notify() (which
    // holds it) sees a whole entry or none.
    const entry = this.#waiters.enter();
    return { entry, depth: this.#lock._releaseAll() };
  }

  #takeOverFromDeadHolder(): boolean {
    const { state, offset, index } = this.#lock._owner;
    const owner = Atomics.load(state.i32, index);
    if (owner === 0 || !addon().lockTakeIfOwnerDead(state.segment, offset, owner)) return false;
    this.#lock._tookOver(owner);
    return true;
  }

  [toHandle](): HandleData {
    return { kind: 'Condition', ...handleOf(this.#state), lock: this.#lock[toHandle]() };
  }

  get [Symbol.toStringTag](): string {
    return 'Condition';
  }

  [inspect.custom](): string {
    return `Condition { ${this.#waiters.waiting().length} waiting, lock: ${inspect(this.#lock)} }`;
  }
}

registerHandleKind('Condition', (data) =>
  reviveShared(
    data,
    Kind.Condition,
    (state) => {
      const lock = reopenHandle(data.lock as HandleData) as AnyLock;
      return revived.give(state, () => new Condition(lock));
    },
    WORDS,
  ),
);
