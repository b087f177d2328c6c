// The state machine of a Barrier in shared memory, and the internal lock
// that guards it (barrier.ts has the public class and its wait). Every
// method that changes the state runs under the lock, through critical();
// the lock is never held across a step of a wait (see critical()).
import { addon } from '../binding/addon';
import { BARRIER, LOCK } from '../binding/layout';
import { BrokenBarrierError, corruptError } from '../base/errors';
import { remaining } from '../base/validate';
import { Entries } from '../shm/entries';
import type { SharedState } from '../shm/shared_state';
import { identityAlive, threadId, threadIdentity, threadStamp } from '../shm/thread';
import { driveSync, sleep, type WaitSteps } from '../wait/driver';

export const FILLING = 0;
export const ACTION = 2; // every party arrived; the last one runs the action
export const BROKEN = -2;

export const RELEASED = 1;
export const RESET = 2;
export const TIMED_OUT = Symbol('timed out');
// How long a wait that gave up waits for the internal lock to record it
// (under the lock); past that it breaks the barrier without the lock.
export const GIVE_UP_LOCK_MS = 100;

export const LIVENESS_SLICE_MS = 20;
/** Parties a Barrier may have: each has an entry in the segment. */
export const MAX_PARTIES = 65536;

export const words = (parties: number): number => BARRIER.members + parties * 2;

/** A party's arrival: its index, the cycle it arrived in, and whether it was the last. */
export type Arrival = { index: number; generation: number; last: boolean };

export class BarrierCycle {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #members: Entries;
  readonly #hasAction: boolean;

  constructor(state: SharedState, hasAction: boolean) {
    this.#state = state;
    this.#i32 = state.i32;
    this.#hasAction = hasAction;
    const parties = this.get(BARRIER.parties);
    if (!(parties >= 1 && parties <= MAX_PARTIES) || this.#i32.length < state.at(words(parties))) {
      throw corruptError(`${state.describe()} is corrupt: it says it has ${parties} parties`);
    }
    this.#members = new Entries(this.#i32, state.at(BARRIER.members), parties, 2);
  }

  get(field: number): number {
    return Atomics.load(this.#i32, this.#state.at(field));
  }

  set(field: number, value: number): void {
    Atomics.store(this.#i32, this.#state.at(field), value);
  }

  // ---- The internal lock: held only across synchronous steps ------------------

  get lockWord(): number {
    return this.#state.at(BARRIER.lock + LOCK.owner);
  }

  tryLock(): boolean {
    if (Atomics.compareExchange(this.#i32, this.lockWord, 0, threadId()) !== 0) return false;
    Atomics.store(this.#i32, this.#state.at(BARRIER.lock + LOCK.stamp), threadStamp());
    return true;
  }

  // Runs `fn` holding the lock (TIMED_OUT if the deadline passed first). The
  // lock is taken and `fn` run in one synchronous stretch: it is never held
  // across a step, so other code of this thread (an abort() in the same tick)
  // never finds it taken by a suspended wait. A holder that died is found at
  // the end of a slice and its lock taken over; the barrier is broken then
  // (it died half-way through a change).
  *critical<R>(deadline: number, fn: () => R): WaitSteps<R | typeof TIMED_OUT> {
    const offset = this.#state.offset(BARRIER.lock);
    for (;;) {
      if (!this.tryLock()) {
        const owner = Atomics.load(this.#i32, this.lockWord);
        if (owner === 0) continue;
        const left = remaining(deadline);
        if (left === 0) return TIMED_OUT;
        const r = yield sleep(offset, owner, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (r !== 'timed-out' || !addon().lockTakeIfOwnerDead(this.#state.segment, offset, owner)) continue;
        this.break();
      }
      try {
        return fn();
      } finally {
        this.unlock();
      }
    }
  }

  // The lock for a moment, without waiting through a step (reset, abort).
  criticalSync<R>(deadline: number, fn: () => R): R | typeof TIMED_OUT {
    return driveSync(this.#state.segment, this.critical(deadline, fn));
  }

  unlock(): void {
    Atomics.store(this.#i32, this.#state.at(BARRIER.lock + LOCK.stamp), 0);
    Atomics.store(this.#i32, this.lockWord, 0);
    if (Atomics.load(this.#i32, this.lockWord + 1) !== 0) addon().wake(this.#state.segment, this.#state.offset(BARRIER.lock), 1);
  }

  // ---- The steps of wait(), each under the lock -------------------------------

  bump(): void {
    Atomics.add(this.#i32, this.#state.at(BARRIER.seq), 1);
    if (Atomics.load(this.#i32, this.#state.at(BARRIER.seqSleepers)) !== 0)
      addon().wake(this.#state.segment, this.#state.offset(BARRIER.seq));
  }

  break(): void {
    this.set(BARRIER.state, BROKEN);
    this.bump();
  }

  // Ends the current cycle: released, or reset (its waiters are told so).
  // A release never overwrites BROKEN: abort() falls back to breaking the
  // barrier without the lock (when a stopped process holds it), and that
  // must not be undone by a holder that resumes.
  endCycle(outcome: number): void {
    const from = this.get(BARRIER.state);
    const gen = this.get(BARRIER.generation);
    const slot = BARRIER.outcomes + ((gen >>> 0) % BARRIER.outcomeEntries) * 2;
    this.set(slot, gen);
    this.set(slot + 1, outcome);
    const count = Math.min(Math.max(this.get(BARRIER.count), 0), this.#members.count);
    for (let i = 0; i < count; i++) this.#members.swap(i, this.#members.identity(i), 0n);
    this.set(BARRIER.count, 0);
    this.set(BARRIER.generation, (gen + 1) | 0);
    if (outcome === RESET) this.set(BARRIER.state, FILLING);
    else if (from !== BROKEN) Atomics.compareExchange(this.#i32, this.#state.at(BARRIER.state), from, FILLING);
    this.bump();
  }

  // Under the lock: join the current cycle; null when the caller must wait
  // for the action of a full cycle to end first.
  arrive(): Arrival | null {
    const state = this.get(BARRIER.state);
    if (state === BROKEN) throw new BrokenBarrierError('the barrier is broken');
    if (state === ACTION) return null;
    const index = this.get(BARRIER.count);
    const parties = this.#members.count;
    if (state !== FILLING || index < 0 || index >= parties) {
      this.break();
      throw corruptError(
        `${this.#state.describe()} was found corrupt (state ${state}, ${index} of ${parties} parties arrived): it is now broken; reset() it`,
      );
    }
    const last = index + 1 === parties;
    // The last arrival releases everyone: not if one of them is dead (it
    // would be counted as having arrived).
    for (let i = 0; last && i < index; i++) {
      const id = this.#members.identity(i);
      if (id !== 0n && !identityAlive(id)) {
        this.break();
        throw new BrokenBarrierError('a party of the barrier died while waiting');
      }
    }
    this.set(BARRIER.count, index + 1);
    this.#members.swap(index, this.#members.identity(index), threadIdentity());
    const a = { index, generation: this.get(BARRIER.generation), last };
    // With no action the last arrival releases the cycle at once; with one,
    // the cycle runs it first (outside the lock).
    if (last) {
      if (!this.#hasAction) this.endCycle(RELEASED);
      else if (Atomics.compareExchange(this.#i32, this.#state.at(BARRIER.state), FILLING, ACTION) !== FILLING) {
        throw new BrokenBarrierError('the barrier was aborted');
      }
    }
    return a;
  }

  // How the caller's cycle ended, once the generation moved: its index, or
  // BrokenBarrierError for a reset.
  outcome(a: Arrival): number {
    const slot = BARRIER.outcomes + ((a.generation >>> 0) % BARRIER.outcomeEntries) * 2;
    if (this.get(slot) === a.generation && this.get(slot + 1) === RESET) {
      throw new BrokenBarrierError('the barrier was reset while waiting');
    }
    return a.index; // released (or so long ago that the record is gone)
  }

  // Whether the party that arrived after this one (or the first, for the
  // last) died: the ring of such checks covers every party.
  neighbourDied(a: Arrival): boolean {
    const count = Math.min(this.get(BARRIER.count), this.#members.count);
    if (count < 2) return false;
    const next = (a.index + 1) % count;
    const id = this.#members.identity(next);
    return id !== 0n && !identityAlive(id);
  }

  // While a full cycle runs its action, a caller of the next one waits: if
  // the party running it (the last to arrive) died, the barrier is broken
  // (its own parties see that too, but with one party there are none).
  actionRunnerDied(): boolean {
    if (this.get(BARRIER.state) !== ACTION) return false;
    const id = this.#members.identity(this.#members.count - 1);
    return id !== 0n && !identityAlive(id);
  }

  breakIfActionRunnerDied(): void {
    if (this.actionRunnerDied()) this.break();
  }

  // After a wake or a slice: is the wait over? The index, a throw, or
  // undefined to go on waiting.
  check(a: Arrival): number | undefined {
    if (this.get(BARRIER.generation) !== a.generation) return this.outcome(a);
    if (this.get(BARRIER.state) === BROKEN) throw new BrokenBarrierError('the barrier was broken while waiting');
    return undefined;
  }

  // The wait ran out of time, or saw a dead party: break the barrier (under
  // the lock; unless the cycle ended meanwhile).
  giveUp(a: Arrival, why: string): number {
    if (this.get(BARRIER.generation) === a.generation) {
      this.break();
      throw new BrokenBarrierError(why);
    }
    return this.outcome(a);
  }

  // An aborted wait leaves: it breaks the barrier (undefined), unless the
  // cycle ended meanwhile (its outcome).
  leave(a: Arrival): number | undefined {
    if (this.get(BARRIER.generation) !== a.generation) return this.outcome(a);
    this.break();
    return undefined;
  }

  // Under the lock, after the action ran (or threw): release the cycle,
  // unless it was broken or reset meanwhile; a throwing action breaks it.
  afterAction(a: Arrival, failure: unknown): number {
    if (failure !== undefined) {
      if (this.get(BARRIER.generation) === a.generation) this.break();
      return a.index;
    }
    const done = this.check(a);
    if (done !== undefined) return done;
    this.endCycle(RELEASED);
    return a.index;
  }

  finishAction(a: Arrival, failure: unknown, r: number | typeof TIMED_OUT): number {
    // The lock could not be had before the deadline (its holder is stopped):
    // the others must not wait on, so break the barrier without it.
    if (r === TIMED_OUT) this.breakUnlocked(a);
    if (failure !== undefined) throw failure as Error; // rethrown as caught
    if (r === TIMED_OUT) throw new BrokenBarrierError('the barrier timed out: its internal lock stayed held');
    return r;
  }

  // The outcome of #giveUp under the lock -- or, when the lock stays held
  // (its holder is stopped), the barrier broken without it.
  givenUp(a: Arrival, why: string, r: number | typeof TIMED_OUT): number {
    if (r !== TIMED_OUT) return r;
    if (this.get(BARRIER.generation) !== a.generation) return this.outcome(a);
    this.breakUnlocked(a);
    throw new BrokenBarrierError(why);
  }

  // Breaks the barrier without its lock, if the cycle `a` is still the
  // current one: one store and a wake. A holder of the lock that resumes
  // finds it broken: its release leaves BROKEN in place (see #endCycle).
  breakUnlocked(a?: Arrival): void {
    if (a && this.get(BARRIER.generation) !== a.generation) return;
    this.break();
  }
}
