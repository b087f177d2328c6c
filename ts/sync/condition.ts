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
import { Entries } from '../shm/entries';
import { CONDITION, Kind, WAITER } from '../binding/layout';
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
import { SharedState, handleOf, remember, reviveShared } from '../shm/shared_state';
import { identityAlive } from '../shm/thread';

const LIVENESS_SLICE_MS = 20;
const WORDS = CONDITION.entries + CONDITION.count * CONDITION.entryWords;

/** a before b, for arrival numbers that wrap at 2^32. */
const earlier = (a: number, b: number): boolean => ((a - b) | 0) < 0;

const revived = new Handoff<SharedState>();

type Outcome = 'notified' | 'timeout' | 'took-over';

export class Condition implements Shareable {
  readonly #lock: AnyLock;
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #arrivals: number;
  readonly #high: number;
  readonly #waiters: Entries;

  constructor(lock?: Lock | RLock) {
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(`Condition takes a Lock or an RLock, got ${describe(lock)}`);
    }
    this.#lock = lock ?? new RLock();
    this.#state = revived.take() ?? SharedState.createOrOpen(Kind.Condition, WORDS, undefined, () => {});
    const s = this.#state;
    this.#i32 = s.i32;
    this.#arrivals = s.at(CONDITION.arrivals);
    this.#high = s.at(CONDITION.high);
    this.#waiters = new Entries(this.#i32, s.at(CONDITION.entries), CONDITION.count, CONDITION.entryWords);
    remember(s, this);
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

  #word(entry: number, field: number): number {
    return this.#waiters.word(entry, field);
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
      const state = this.#word(entry, CONDITION.state);
      for (;;) {
        if (Atomics.load(this.#i32, state) === WAITER.notified) {
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
          this.#passOnLostNotifications(entry);
        }
      }
    } catch (e) {
      aborted = e;
    } finally {
      outcome = this.#endWait(entry, outcome, aborted !== undefined);
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
    if (n === 0) return;
    const high = Math.min(Atomics.load(this.#i32, this.#high), CONDITION.count);
    const waiting: number[] = [];
    for (let i = 0; i < high; i++) {
      if (this.#waiters.identity(i) !== 0n && Atomics.load(this.#i32, this.#word(i, CONDITION.state)) === WAITER.waiting) waiting.push(i);
    }
    if (waiting.length === 0) return;
    if (waiting.length > n) {
      const arrival = (i: number): number => this.#i32[this.#word(i, CONDITION.arrival)];
      waiting.sort((a, b) => (arrival(a) - arrival(b)) | 0);
      waiting.length = n;
    }
    const now = Atomics.load(this.#i32, this.#arrivals);
    for (const i of waiting) this.#notifyEntry(i, now);
  }

  /** Wakes every waiter. The caller must hold the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  // Marks entry i notified (if it still waits) at arrival time `at`, and wakes it.
  // (notifiedAt is written before the CAS, so that whoever sees the entry
  // notified reads it; not over an entry already notified, whose
  // notification a dead waiter may yet pass on.)
  #notifyEntry(i: number, at: number): boolean {
    const state = this.#word(i, CONDITION.state);
    if (Atomics.load(this.#i32, state) !== WAITER.waiting) return false;
    Atomics.store(this.#i32, this.#word(i, CONDITION.notifiedAt), at);
    if (Atomics.compareExchange(this.#i32, state, WAITER.waiting, WAITER.notified) !== WAITER.waiting) return false;
    if (Atomics.load(this.#i32, state + 1) !== 0) {
      addon().wake(this.#state.segment, state * 4, 1);
    }
    return true;
  }

  // Entries of dead waiters: free them, and pass each notification they got
  // on to the oldest waiter that was waiting when it was given.
  #passOnLostNotifications(self: number): void {
    const high = Math.min(Atomics.load(this.#i32, this.#high), CONDITION.count);
    for (let i = 0; i < high; i++) {
      if (i === self) continue;
      const id = this.#waiters.identity(i);
      if (id === 0n || Atomics.load(this.#i32, this.#word(i, CONDITION.state)) !== WAITER.notified) continue;
      if (identityAlive(id)) continue;
      this.#dropDead(i, id);
    }
  }

  // Frees a dead waiter's entry, passing on a notification it got. Under a
  // tombstone (entries.ts reclaim): no one claims the entry meanwhile, and a
  // notify racing with this either lands before the entry is closed to it
  // (and is passed on) or finds it closed.
  #dropDead(i: number, id: bigint): void {
    let at: number | undefined;
    this.#waiters.reclaim(i, id, () => {
      const state = this.#word(i, CONDITION.state);
      if (Atomics.compareExchange(this.#i32, state, WAITER.waiting, WAITER.free) === WAITER.notified) {
        at = this.#i32[this.#word(i, CONDITION.notifiedAt)]!;
      }
      Atomics.store(this.#i32, state, WAITER.free);
    });
    if (at !== undefined) this.#passOn(at);
  }

  #passOn(at: number): void {
    const high = Math.min(Atomics.load(this.#i32, this.#high), CONDITION.count);
    for (;;) {
      let oldest = -1;
      for (let i = 0; i < high; i++) {
        if (this.#waiters.identity(i) === 0n || Atomics.load(this.#i32, this.#word(i, CONDITION.state)) !== WAITER.waiting) continue;
        const arrival = this.#i32[this.#word(i, CONDITION.arrival)];
        if (!earlier(arrival, at)) continue;
        if (oldest < 0 || earlier(arrival, this.#i32[this.#word(oldest, CONDITION.arrival)])) oldest = i;
      }
      if (oldest < 0 || this.#notifyEntry(oldest, at)) return;
    }
  }

  #requireOwned(what: string): void {
    if (!this.#lock._isMine()) throw new Error(`cannot ${what}() on a Condition whose lock this thread does not hold`);
  }

  #beginWait(): { entry: number; depth: number } {
    this.#requireOwned('wait');
    let entry = this.#waiters.claim();
    if (entry < 0) {
      this.#waiters.purge((i, id) => this.#dropDead(i, id)); // entries of waiters that died
      entry = this.#waiters.claim();
      if (entry < 0) throw new RangeError(`more than ${CONDITION.count} calls wait on this Condition at once: it cannot hold more`);
    }
    // Set up before the lock is released: notify() (which holds it) sees a
    // whole entry or none.
    this.#i32[this.#word(entry, CONDITION.arrival)] = Atomics.add(this.#i32, this.#arrivals, 1);
    this.#i32[this.#word(entry, CONDITION.notifiedAt)] = 0;
    Atomics.store(this.#i32, this.#word(entry, CONDITION.state), WAITER.waiting);
    for (;;) {
      const high = Atomics.load(this.#i32, this.#high);
      if (high > entry || Atomics.compareExchange(this.#i32, this.#high, high, entry + 1) === high) break;
    }
    return { entry, depth: this.#lock._releaseAll() };
  }

  // Leaves the entry; returns the outcome, which a notification that raced
  // with a timeout turns into 'notified'. An aborted wait passes a
  // notification it got on instead.
  #endWait(entry: number, outcome: Outcome, aborted: boolean): Outcome {
    const state = this.#word(entry, CONDITION.state);
    if (outcome !== 'notified' && Atomics.compareExchange(this.#i32, state, WAITER.waiting, WAITER.free) !== WAITER.waiting) {
      outcome = outcome === 'took-over' ? outcome : 'notified';
    }
    const at = this.#i32[this.#word(entry, CONDITION.notifiedAt)];
    Atomics.store(this.#i32, state, WAITER.free);
    this.#waiters.free(entry);
    if (aborted && outcome === 'notified') {
      this.#passOn(at);
      return 'timeout';
    }
    return outcome;
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
    let waiting = 0;
    const high = Math.min(Atomics.load(this.#i32, this.#high), CONDITION.count);
    for (let i = 0; i < high; i++) {
      if (this.#waiters.identity(i) !== 0n && Atomics.load(this.#i32, this.#word(i, CONDITION.state)) === WAITER.waiting) waiting++;
    }
    return `Condition { ${waiting} waiting, lock: ${inspect(this.#lock)} }`;
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
