// Condition: Python's multiprocessing.Condition over a Lock or RLock (an RLock
// by default). Shared state: a notification sequence number (the word
// waiters sleep on), the number of waiters, and the signals granted by
// notify() and not yet taken. notify(n) grants min(n, waiters without a
// signal) signals and bumps the sequence; a waiter that sees the sequence
// move returns notified only if it takes a signal, so at most n return.
//
// Owner death: while it sleeps, a waiter checks every 20 ms whether the
// lock's holder died holding it; if so it takes the lock over (the lock's
// ownerDied becomes true) and returns, instead of waiting for a notify that
// can never come.
import { addon } from '../addon';
import { describe } from '../names';
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../handles';
import { wait } from '../wait';
import { CONDITION, Kind } from './layout';
import { Lock, RLock, type AnyLock } from './lock';
import { deadlineAfter, msArgument, remaining, type AsyncOptions, type SyncOptions } from './options';
import { SharedState, remember, reuseOrOpen } from './shared_state';
import { threadId } from './thread';

const LIVENESS_SLICE_MS = 20;

let revived: SharedState | undefined;

export class Condition implements Shareable {
  readonly #lock: AnyLock;
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #seq: number;
  readonly #waiters: number;
  readonly #signals: number;
  readonly #offset: number;

  constructor(lock?: Lock | RLock) {
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(`Condition takes a Lock or an RLock, got ${describe(lock)}`);
    }
    this.#lock = lock ?? new RLock();
    this.#state = revived ?? SharedState.createOrOpen(Kind.Condition, CONDITION.words, undefined, () => {});
    revived = undefined;
    this.#i32 = this.#state.i32;
    this.#seq = this.#state.at(CONDITION.seq);
    this.#waiters = this.#state.at(CONDITION.waiters);
    this.#signals = this.#state.at(CONDITION.signals);
    this.#offset = this.#state.offset(CONDITION.seq);
    remember(this.#state, this);
  }

  /** The underlying lock. */
  get lock(): AnyLock {
    return this.#lock;
  }

  acquire(options?: AsyncOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  acquireSync(options?: SyncOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  release(): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, waits for a notify (or timeoutMs), re-acquires the
   * lock. Resolves true when notified, false on timeout. The caller must hold
   * the lock.
   */
  async wait(timeoutMs?: number, options?: { signal?: AbortSignal }): Promise<boolean> {
    const deadline = deadlineAfter(msArgument(timeoutMs));
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
    // An abort rejects with an AbortError, after the lock is held again.
    let { seq, depth } = this.#beginWait();
    let outcome: 'notified' | 'timeout' | 'took-over' = 'timeout';
    try {
      for (;;) {
        const now = Atomics.load(this.#i32, this.#seq);
        if (now !== seq) {
          if (this.#takeSignal()) {
            outcome = 'notified';
            break;
          }
          seq = now; // notified, but the signals went to others: wait on
        }
        const left = remaining(deadline);
        if (left === 0) break;
        await wait(this.#state.segment, this.#offset, seq, { timeout: Math.min(left ?? Infinity, LIVENESS_SLICE_MS), signal });
        if (this.#takeOverFromDeadHolder()) {
          outcome = 'took-over';
          break;
        }
      }
    } finally {
      this.#endWait(outcome === 'notified');
      if (outcome !== 'took-over') await this.#lock.acquire();
      this.#lock._restore(depth);
    }
    return outcome !== 'timeout';
  }

  /** wait() that blocks the thread. */
  waitSync(timeoutMs?: number): boolean {
    const deadline = deadlineAfter(msArgument(timeoutMs));
    let { seq, depth } = this.#beginWait();
    const native = addon();
    let outcome: 'notified' | 'timeout' | 'took-over' = 'timeout';
    try {
      for (;;) {
        const now = Atomics.load(this.#i32, this.#seq);
        if (now !== seq) {
          if (this.#takeSignal()) {
            outcome = 'notified';
            break;
          }
          seq = now;
        }
        const left = remaining(deadline);
        if (left === 0) break;
        native.waitSync(this.#state.segment, this.#offset, seq, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (this.#takeOverFromDeadHolder()) {
          outcome = 'took-over';
          break;
        }
      }
    } finally {
      this.#endWait(outcome === 'notified');
      if (outcome !== 'took-over') this.#lock.acquireSync();
      this.#lock._restore(depth);
    }
    return outcome !== 'timeout';
  }

  /** Waits until predicate() is truthy (checked first, then after each wake); returns its last value. */
  async waitFor<T>(predicate: () => T, timeoutMs?: number): Promise<T> {
    if (typeof predicate !== 'function') throw new TypeError('waitFor() takes a predicate function');
    const deadline = deadlineAfter(msArgument(timeoutMs));
    let result = predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      await this.wait(left);
      result = predicate();
    }
    return result;
  }

  /** waitFor() that blocks the thread. */
  waitForSync<T>(predicate: () => T, timeoutMs?: number): T {
    if (typeof predicate !== 'function') throw new TypeError('waitForSync() takes a predicate function');
    const deadline = deadlineAfter(msArgument(timeoutMs));
    let result = predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      this.waitSync(left);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to n waiters. The caller must hold the lock. */
  notify(n = 1): void {
    if (typeof n !== 'number' || !(Number.isInteger(n) || n === Infinity) || n < 0) {
      throw new RangeError(`n must be a non-negative integer, got ${describe(n)}`);
    }
    this.#requireOwned('notify');
    const unsignalled = Atomics.load(this.#i32, this.#waiters) - Atomics.load(this.#i32, this.#signals);
    const k = Math.min(n, unsignalled);
    if (k <= 0) return;
    Atomics.add(this.#i32, this.#signals, k);
    Atomics.add(this.#i32, this.#seq, 1);
    if (Atomics.load(this.#i32, this.#seq + 1) !== 0) addon().wake(this.#state.segment, this.#offset, k);
  }

  /** Wakes every waiter. The caller must hold the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  #takeSignal(): boolean {
    for (;;) {
      const s = Atomics.load(this.#i32, this.#signals);
      if (s === 0) return false;
      if (Atomics.compareExchange(this.#i32, this.#signals, s, s - 1) === s) return true;
    }
  }

  // A waiter leaves. One that leaves without a signal (timeout, takeover)
  // drops a signal no remaining waiter could take, so it cannot linger and
  // wake a later waiter that was never notified.
  #endWait(notified: boolean): void {
    const left = Atomics.sub(this.#i32, this.#waiters, 1) - 1;
    if (notified) return;
    for (;;) {
      const s = Atomics.load(this.#i32, this.#signals);
      if (s <= left || Atomics.compareExchange(this.#i32, this.#signals, s, s - 1) === s) return;
    }
  }

  #requireOwned(what: string): void {
    if (!this.#lock._isMine()) throw new Error(`cannot ${what}() on a Condition whose lock this thread does not hold`);
  }

  #beginWait(): { seq: number; depth: number } {
    this.#requireOwned('wait');
    // Counted and read before releasing: a notify after the release sees
    // this waiter and bumps the sequence past this value.
    Atomics.add(this.#i32, this.#waiters, 1);
    const seq = Atomics.load(this.#i32, this.#seq);
    return { seq, depth: this.#lock._releaseAll() };
  }

  #takeOverFromDeadHolder(): boolean {
    const { state, offset, index } = this.#lock._owner;
    const owner = Atomics.load(state.i32, index);
    if (owner === 0 || !addon().lockTakeIfOwnerDead(state.segment, offset, owner, threadId())) return false;
    this.#lock._tookOver(owner);
    return true;
  }

  [toHandle](): HandleData {
    return { kind: 'Condition', name: this.#state.name, lock: this.#lock[toHandle]() };
  }

  get [Symbol.toStringTag](): string {
    return 'Condition';
  }
}

registerHandleKind('Condition', (data) => reuseOrOpen(String(data.name), () => {
  const lock = reopenHandle(data.lock as HandleData) as AnyLock;
  revived = SharedState.open(String(data.name), Kind.Condition);
  return new Condition(lock);
}));
