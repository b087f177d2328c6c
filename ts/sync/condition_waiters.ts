// A Condition's table of waiting calls (condition.ts tells the protocol):
// one entry per wait, with its arrival number and a wait cell of its own;
// notify marks the oldest entries and wakes exactly those; the notification
// of a waiter that died is passed on to one that was waiting when it was
// given. enter() and notify() run with the Condition's lock held; a waiter
// calls passOnLost() while it sleeps, each dead entry under a tombstone.
import { addon } from '../binding/addon';
import { CONDITION, WAITER } from '../binding/layout';
import { Entries } from '../shm/entries';
import type { SharedState } from '../shm/shared_state';
import { identityAlive } from '../shm/thread';

/** State words of a Condition. */
export const WORDS = CONDITION.entries + CONDITION.count * CONDITION.entryWords;

export type Outcome = 'notified' | 'timeout' | 'took-over';

/** a before b, for arrival numbers that wrap at 2^32. */
const earlier = (a: number, b: number): boolean => ((a - b) | 0) < 0;

export class Waiters {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #arrivals: number;
  readonly #high: number;
  readonly #waiters: Entries;

  constructor(state: SharedState) {
    this.#state = state;
    this.#i32 = state.i32;
    this.#arrivals = state.at(CONDITION.arrivals);
    this.#high = state.at(CONDITION.high);
    this.#waiters = new Entries(this.#i32, state.at(CONDITION.entries), CONDITION.count, CONDITION.entryWords);
  }

  #word(entry: number, field: number): number {
    return this.#waiters.word(entry, field);
  }

  /** Word index of an entry's wait cell (WAITER.waiting until notified). */
  stateWord(entry: number): number {
    return this.#word(entry, CONDITION.state);
  }

  notified(entry: number): boolean {
    return Atomics.load(this.#i32, this.#word(entry, CONDITION.state)) === WAITER.notified;
  }

  /** Claims an entry for a wait that begins now; RangeError if all are taken by live waiters. */
  enter(): number {
    let entry = this.#waiters.claim();
    if (entry < 0) {
      this.#waiters.purge((i, id) => this.#dropDead(i, id)); // entries of waiters that died
      entry = this.#waiters.claim();
      if (entry < 0) throw new RangeError(`more than ${CONDITION.count} calls wait on this Condition at once: it cannot hold more`);
    }
    this.#i32[this.#word(entry, CONDITION.arrival)] = Atomics.add(this.#i32, this.#arrivals, 1);
    this.#i32[this.#word(entry, CONDITION.notifiedAt)] = 0;
    Atomics.store(this.#i32, this.#word(entry, CONDITION.state), WAITER.waiting);
    for (;;) {
      const high = Atomics.load(this.#i32, this.#high);
      if (high > entry || Atomics.compareExchange(this.#i32, this.#high, high, entry + 1) === high) break;
    }
    return entry;
  }

  /** The entries that wait (not yet notified). */
  waiting(): number[] {
    const high = Math.min(Atomics.load(this.#i32, this.#high), CONDITION.count);
    const waiting: number[] = [];
    for (let i = 0; i < high; i++) {
      if (this.#waiters.identity(i) !== 0n && Atomics.load(this.#i32, this.#word(i, CONDITION.state)) === WAITER.waiting) waiting.push(i);
    }
    return waiting;
  }

  /** Notifies the n (> 0) oldest waiting entries. */
  notify(n: number): void {
    const waiting = this.waiting();
    if (waiting.length === 0) return;
    if (waiting.length > n) {
      const arrival = (i: number): number => this.#i32[this.#word(i, CONDITION.arrival)];
      waiting.sort((a, b) => (arrival(a) - arrival(b)) | 0);
      waiting.length = n;
    }
    const now = Atomics.load(this.#i32, this.#arrivals);
    for (const i of waiting) this.#notifyEntry(i, now);
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

  /** Entries of dead waiters: frees them, and passes each notification they got on to the oldest waiter that was waiting when it was given. */
  passOnLost(self: number): void {
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

  /**
   * Leaves the entry; returns the outcome, which a notification that raced
   * with a timeout turns into 'notified'. An aborted wait passes a
   * notification it got on instead.
   */
  leave(entry: number, outcome: Outcome, aborted: boolean): Outcome {
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
}
