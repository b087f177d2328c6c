// Barrier: Python's threading.Barrier (which multiprocessing shares between
// processes), kept in shared memory: an internal robust lock, a wait cell
// bumped at every change, and the state of the current cycle.
//
// Cycles, not draining. Python's Barrier releases a cycle by switching to
// "draining" until every released party has left, so a party that dies
// after being released keeps every later wait() stuck in "draining" for
// ever. Here each cycle has a generation number: the last arrival records
// the cycle's outcome, bumps the generation and empties the barrier at
// once, and a waiter that sees the generation move reads how its cycle
// ended (released, or reset). Nothing waits for released parties to leave.
//
// Death. Each arrival records who it is (entries.ts). A waiter checks, every
// 20 ms, that the party that arrived after it (the first one, for the last)
// still lives; the ring of such checks covers every party. A dead party
// breaks the barrier: the others get BrokenBarrierError, as Python's threads
// would if one of them could die mid-wait, and reset() recovers it. A holder
// of the internal lock that dies breaks it too (its change was half made).
//
// The internal lock is only ever held for a few synchronous statements --
// never across an await, and not while the action runs (the cycle is then
// in "action" state) -- so abort() or reset() called in the same tick as an
// async wait(), from the same thread, never finds it held by that wait.
//
// The action runs in whichever process arrives last, so every process must
// be able to find it: pass an exported function (of the main script, or name
// its module with `actionModule`), as for Process targets.
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { BrokenBarrierError, corruptError } from '../base/errors';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { state as processState } from '../base/identity';
import { resolveExport } from '../base/modules';
import { drive, driveSync, sleep, type WaitSteps } from '../wait/driver';
import { Entries } from '../shm/entries';
import { BARRIER, Kind, LOCK } from '../binding/layout';
import { deadlineAfter, describe, msArgument, remaining, waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { SharedState, handleOf, remember, reviveShared } from '../shm/shared_state';
import { identityAlive, threadId, threadIdentity, threadStamp } from '../shm/thread';

const FILLING = 0;
const ACTION = 2; // every party arrived; the last one runs the action
const BROKEN = -2;

const RELEASED = 1;
const RESET = 2;
const TIMED_OUT = Symbol('timed out');
// How long a wait that gave up waits for the internal lock to record it
// (under the lock); past that it breaks the barrier without the lock.
const GIVE_UP_LOCK_MS = 100;

const LIVENESS_SLICE_MS = 20;
/** Parties a Barrier may have: each has an entry in the segment. */
export const MAX_PARTIES = 65536;

export interface BarrierOptions {
  /** Called by one process (the last to arrive) before the others are released. */
  action?: () => unknown;
  /** The module that exports `action` (path, URL or import.meta.url). Default: the main script. */
  actionModule?: string | URL;
  /** Default timeout of wait(), in milliseconds. */
  timeout?: number;
}

interface ActionRef {
  module: string;
  name: string;
}

const revived = new Handoff<{ state: SharedState; action?: () => unknown; actionRef?: ActionRef; timeout: number }>();

/** Functions exported by modules this process imported through multiproc (for revived actions). */
export function findLoadedExport(ref: ActionRef): (() => unknown) | undefined {
  const ns = processState.loadedModules.get(ref.module);
  const value = ns?.[ref.name] ?? (ns?.default as Record<string, unknown> | undefined)?.[ref.name];
  return typeof value === 'function' ? (value as () => unknown) : undefined;
}

const words = (parties: number): number => BARRIER.members + parties * 2;

// What a wait() is doing, between its synchronous steps.
type Arrival = { index: number; generation: number; last: boolean };

export class Barrier implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #members: Entries;
  readonly #action: (() => unknown) | undefined;
  readonly #actionRef: ActionRef | undefined;
  readonly #timeout: number;

  constructor(parties: number, options: BarrierOptions = {}) {
    const revival = revived.take();
    if (revival) {
      ({ state: this.#state, action: this.#action, actionRef: this.#actionRef, timeout: this.#timeout } = revival);
    } else {
      if (typeof parties !== 'number' || !Number.isInteger(parties))
        throw new TypeError(`parties must be an integer, got ${describe(parties)}`);
      if (parties < 1 || parties > MAX_PARTIES) throw new RangeError(`parties must be from 1 to ${MAX_PARTIES}, got ${parties}`);
      if (typeof options !== 'object' || options === null)
        throw new TypeError(`Barrier options must be an object, got ${describe(options)}`);
      for (const key of Object.keys(options)) {
        if (!['action', 'actionModule', 'timeout'].includes(key)) throw new TypeError(`unknown Barrier option ${JSON.stringify(key)}`);
      }
      const { action, actionModule } = options;
      if (action !== undefined && typeof action !== 'function')
        throw new TypeError(`options.action must be a function, got ${describe(action)}`);
      this.#timeout = msArgument(options.timeout, 'options.timeout');
      this.#action = action;
      if (action) {
        // Any party may be the last to arrive and run it, so it must be a
        // function every process can find: checked here, not at a timeout.
        const { module, exportName } = resolveExport(action, actionModule, 'the Barrier action', 'actionModule', 'action');
        this.#actionRef = { module, name: exportName };
      }
      this.#state = SharedState.createOrOpen(Kind.Barrier, words(parties), undefined, (s) => {
        s.i32[s.at(BARRIER.parties)] = parties;
      });
    }
    const s = this.#state;
    this.#i32 = s.i32;
    const parties_ = this.#get(BARRIER.parties);
    if (!(parties_ >= 1 && parties_ <= MAX_PARTIES) || this.#i32.length < s.at(words(parties_))) {
      throw corruptError(`${s.describe()} is corrupt: it says it has ${parties_} parties`);
    }
    this.#members = new Entries(this.#i32, s.at(BARRIER.members), parties_, 2);
    remember(s, this);
  }

  #get(field: number): number {
    return Atomics.load(this.#i32, this.#state.at(field));
  }

  #set(field: number, value: number): void {
    Atomics.store(this.#i32, this.#state.at(field), value);
  }

  get parties(): number {
    return this.#get(BARRIER.parties);
  }

  /** How many are waiting now. */
  get nWaiting(): number {
    return this.#get(BARRIER.state) === BROKEN ? 0 : this.#get(BARRIER.count);
  }

  get broken(): boolean {
    return this.#get(BARRIER.state) === BROKEN;
  }

  // ---- The internal lock: held only across synchronous steps ------------------

  get #lockWord(): number {
    return this.#state.at(BARRIER.lock + LOCK.owner);
  }

  #tryLock(): boolean {
    if (Atomics.compareExchange(this.#i32, this.#lockWord, 0, threadId()) !== 0) return false;
    Atomics.store(this.#i32, this.#state.at(BARRIER.lock + LOCK.stamp), threadStamp());
    return true;
  }

  // Runs `fn` holding the lock (TIMED_OUT if the deadline passed first). The
  // lock is taken and `fn` run in one synchronous stretch: it is never held
  // across a step, so other code of this thread (an abort() in the same tick)
  // never finds it taken by a suspended wait. A holder that died is found at
  // the end of a slice and its lock taken over; the barrier is broken then
  // (it died half-way through a change).
  *#critical<R>(deadline: number, fn: () => R): WaitSteps<R | typeof TIMED_OUT> {
    const offset = this.#state.offset(BARRIER.lock);
    for (;;) {
      if (!this.#tryLock()) {
        const owner = Atomics.load(this.#i32, this.#lockWord);
        if (owner === 0) continue;
        const left = remaining(deadline);
        if (left === 0) return TIMED_OUT;
        const r = yield sleep(offset, owner, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (r !== 'timed-out' || !addon().lockTakeIfOwnerDead(this.#state.segment, offset, owner)) continue;
        this.#break();
      }
      try {
        return fn();
      } finally {
        this.#unlock();
      }
    }
  }

  // The lock for a moment, without waiting through a step (reset, abort).
  #criticalSync<R>(deadline: number, fn: () => R): R | typeof TIMED_OUT {
    return driveSync(this.#state.segment, this.#critical(deadline, fn), this.#i32);
  }

  #unlock(): void {
    Atomics.store(this.#i32, this.#state.at(BARRIER.lock + LOCK.stamp), 0);
    Atomics.store(this.#i32, this.#lockWord, 0);
    if (Atomics.load(this.#i32, this.#lockWord + 1) !== 0) addon().wake(this.#state.segment, this.#state.offset(BARRIER.lock), 1);
  }

  // ---- The steps of wait(), each under the lock -------------------------------

  #bump(): void {
    Atomics.add(this.#i32, this.#state.at(BARRIER.seq), 1);
    if (Atomics.load(this.#i32, this.#state.at(BARRIER.seqSleepers)) !== 0)
      addon().wake(this.#state.segment, this.#state.offset(BARRIER.seq));
  }

  #break(): void {
    this.#set(BARRIER.state, BROKEN);
    this.#bump();
  }

  // Ends the current cycle: released, or reset (its waiters are told so).
  // A release never overwrites BROKEN: abort() falls back to breaking the
  // barrier without the lock (when a stopped process holds it), and that
  // must not be undone by a holder that resumes.
  #endCycle(outcome: number): void {
    const from = this.#get(BARRIER.state);
    const gen = this.#get(BARRIER.generation);
    const slot = BARRIER.outcomes + ((gen >>> 0) % BARRIER.outcomeEntries) * 2;
    this.#set(slot, gen);
    this.#set(slot + 1, outcome);
    const count = Math.min(Math.max(this.#get(BARRIER.count), 0), this.#members.count);
    for (let i = 0; i < count; i++) this.#members.swap(i, this.#members.identity(i), 0n);
    this.#set(BARRIER.count, 0);
    this.#set(BARRIER.generation, (gen + 1) | 0);
    if (outcome === RESET) this.#set(BARRIER.state, FILLING);
    else if (from !== BROKEN) Atomics.compareExchange(this.#i32, this.#state.at(BARRIER.state), from, FILLING);
    this.#bump();
  }

  // Under the lock: join the current cycle; null when the caller must wait
  // for the action of a full cycle to end first.
  #arrive(): Arrival | null {
    const state = this.#get(BARRIER.state);
    if (state === BROKEN) throw new BrokenBarrierError('the barrier is broken');
    if (state === ACTION) return null;
    const index = this.#get(BARRIER.count);
    const parties = this.#members.count;
    if (state !== FILLING || index < 0 || index >= parties) {
      this.#break();
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
        this.#break();
        throw new BrokenBarrierError('a party of the barrier died while waiting');
      }
    }
    this.#set(BARRIER.count, index + 1);
    this.#members.swap(index, this.#members.identity(index), threadIdentity());
    const a = { index, generation: this.#get(BARRIER.generation), last };
    // With no action the last arrival releases the cycle at once; with one,
    // the cycle runs it first (outside the lock).
    if (last) {
      if (!this.#action) this.#endCycle(RELEASED);
      else if (Atomics.compareExchange(this.#i32, this.#state.at(BARRIER.state), FILLING, ACTION) !== FILLING) {
        throw new BrokenBarrierError('the barrier was aborted');
      }
    }
    return a;
  }

  // How the caller's cycle ended, once the generation moved: its index, or
  // BrokenBarrierError for a reset.
  #outcome(a: Arrival): number {
    const slot = BARRIER.outcomes + ((a.generation >>> 0) % BARRIER.outcomeEntries) * 2;
    if (this.#get(slot) === a.generation && this.#get(slot + 1) === RESET) {
      throw new BrokenBarrierError('the barrier was reset while waiting');
    }
    return a.index; // released (or so long ago that the record is gone)
  }

  // Whether the party that arrived after this one (or the first, for the
  // last) died: the ring of such checks covers every party.
  #neighbourDied(a: Arrival): boolean {
    const count = Math.min(this.#get(BARRIER.count), this.#members.count);
    if (count < 2) return false;
    const next = (a.index + 1) % count;
    const id = this.#members.identity(next);
    return id !== 0n && !identityAlive(id);
  }

  // While a full cycle runs its action, a caller of the next one waits: if
  // the party running it (the last to arrive) died, the barrier is broken
  // (its own parties see that too, but with one party there are none).
  #actionRunnerDied(): boolean {
    if (this.#get(BARRIER.state) !== ACTION) return false;
    const id = this.#members.identity(this.#members.count - 1);
    return id !== 0n && !identityAlive(id);
  }

  #breakIfActionRunnerDied(): void {
    if (this.#actionRunnerDied()) this.#break();
  }

  // After a wake or a slice: is the wait over? The index, a throw, or
  // undefined to go on waiting.
  #check(a: Arrival): number | undefined {
    if (this.#get(BARRIER.generation) !== a.generation) return this.#outcome(a);
    if (this.#get(BARRIER.state) === BROKEN) throw new BrokenBarrierError('the barrier was broken while waiting');
    return undefined;
  }

  // The wait ran out of time, or saw a dead party: break the barrier (under
  // the lock; unless the cycle ended meanwhile).
  #giveUp(a: Arrival, why: string): number {
    if (this.#get(BARRIER.generation) === a.generation) {
      this.#break();
      throw new BrokenBarrierError(why);
    }
    return this.#outcome(a);
  }

  // An aborted wait leaves: it breaks the barrier (undefined), unless the
  // cycle ended meanwhile (its outcome).
  #leave(a: Arrival): number | undefined {
    if (this.#get(BARRIER.generation) !== a.generation) return this.#outcome(a);
    this.#break();
    return undefined;
  }

  /**
   * Waits for all parties; resolves with this caller's arrival index (0 ..
   * parties-1). Rejects with BrokenBarrierError. The timeout (ms, default the
   * barrier's) can come with a signal: `wait({ timeout, signal })` or
   * `wait(ms, { signal })`. An abort while waiting for the others breaks the
   * barrier, as a timeout does, and rejects with AbortError.
   */
  async wait(timeout?: number | WaitOptions, options?: WaitOptions): Promise<number> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'Barrier.wait', true, this.#timeout);
    return drive(this.#state.segment, this.#steps(deadlineAfter(ms)), signal);
  }

  /** wait() that blocks the thread. An async action's promise is not awaited: give waitSync() a synchronous action. */
  waitSync(timeout?: number | SyncWaitOptions): number {
    const { timeout: ms } = waitArguments(timeout, undefined, 'Barrier.waitSync', false, this.#timeout);
    return driveSync(this.#state.segment, this.#steps(deadlineAfter(ms)), this.#i32);
  }

  // The wait, for both drivers.
  *#steps(deadline: number): WaitSteps<number> {
    const seq = this.#state.offset(BARRIER.seq);
    let a: Arrival | null = null;
    while (a === null) {
      let seen = 0;
      const r = yield* this.#critical(deadline, () => {
        seen = this.#get(BARRIER.seq);
        return this.#arrive();
      });
      if (r === TIMED_OUT) throw new BrokenBarrierError('the barrier timed out waiting for the other parties');
      a = r;
      if (a === null) {
        // A full cycle runs its action: wait for the next cycle.
        const left = remaining(deadline);
        if (left === 0) throw new BrokenBarrierError('the barrier timed out waiting for the other parties');
        const w = yield sleep(seq, seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (w === 'timed-out' && this.#actionRunnerDied()) {
          const broke = yield* this.#critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#breakIfActionRunnerDied());
          if (broke === TIMED_OUT) this.#breakIfActionRunnerDied(); // its lock stays held: without it
        }
      }
    }
    const arrival = a;
    if (arrival.last) {
      const action = this.#action;
      if (!action) return arrival.index;
      const { failure } = (yield { run: () => action.call(this) }) as { failure: unknown };
      return this.#finishAction(arrival, failure, yield* this.#critical(deadline, () => this.#afterAction(arrival, failure)));
    }
    for (;;) {
      const seen = this.#get(BARRIER.seq);
      const done = this.#check(arrival);
      if (done !== undefined) return done;
      const left = remaining(deadline);
      let why: string | undefined;
      let aborted: unknown;
      if (left === 0) why = 'the barrier timed out waiting for the other parties';
      else {
        try {
          const r = yield sleep(seq, seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
          if (r === 'timed-out' && this.#neighbourDied(arrival)) why = 'a party of the barrier died while waiting';
        } catch (e) {
          // Aborted: this party leaves, which breaks the barrier for the others.
          why = 'a party of the barrier stopped waiting (its wait was aborted)';
          aborted = e;
        }
      }
      if (why !== undefined) {
        const reason = why;
        if (aborted === undefined) {
          const r = yield* this.#critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#giveUp(arrival, reason));
          return this.#givenUp(arrival, reason, r);
        }
        // Aborted: leave (breaking the barrier), unless the cycle ended first -- then it was passed.
        const r = yield* this.#critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#leave(arrival));
        if (r === TIMED_OUT) this.#breakUnlocked(arrival);
        if (r === TIMED_OUT || r === undefined) throw aborted as Error; // rethrown as caught
        return r;
      }
    }
  }

  // Under the lock, after the action ran (or threw): release the cycle,
  // unless it was broken or reset meanwhile; a throwing action breaks it.
  #afterAction(a: Arrival, failure: unknown): number {
    if (failure !== undefined) {
      if (this.#get(BARRIER.generation) === a.generation) this.#break();
      return a.index;
    }
    const done = this.#check(a);
    if (done !== undefined) return done;
    this.#endCycle(RELEASED);
    return a.index;
  }

  #finishAction(a: Arrival, failure: unknown, r: number | typeof TIMED_OUT): number {
    // The lock could not be had before the deadline (its holder is stopped):
    // the others must not wait on, so break the barrier without it.
    if (r === TIMED_OUT) this.#breakUnlocked(a);
    if (failure !== undefined) throw failure as Error; // rethrown as caught
    if (r === TIMED_OUT) throw new BrokenBarrierError('the barrier timed out: its internal lock stayed held');
    return r;
  }

  // The outcome of #giveUp under the lock -- or, when the lock stays held
  // (its holder is stopped), the barrier broken without it.
  #givenUp(a: Arrival, why: string, r: number | typeof TIMED_OUT): number {
    if (r !== TIMED_OUT) return r;
    if (this.#get(BARRIER.generation) !== a.generation) return this.#outcome(a);
    this.#breakUnlocked(a);
    throw new BrokenBarrierError(why);
  }

  // Breaks the barrier without its lock, if the cycle `a` is still the
  // current one: one store and a wake. A holder of the lock that resumes
  // finds it broken: its release leaves BROKEN in place (see #endCycle).
  #breakUnlocked(a?: Arrival): void {
    if (a && this.#get(BARRIER.generation) !== a.generation) return;
    this.#break();
  }

  /** Returns the barrier to its initial state, also when broken; current waiters get BrokenBarrierError. */
  reset(): void {
    this.#criticalSync(Infinity, () => this.#endCycle(RESET));
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until reset(). */
  abort(): void {
    // Under the lock, so that it falls cleanly before or after a cycle's
    // release. The lock is held only for a few statements, never across an
    // await (so not by this thread now); if a stopped process holds it,
    // break without it after GIVE_UP_LOCK_MS -- releases never overwrite
    // BROKEN, so the abort is not lost, though the parties of a cycle being
    // released in that instant may see either outcome.
    if (this.#criticalSync(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#break()) === TIMED_OUT) this.#breakUnlocked();
  }

  [toHandle](): HandleData {
    return { kind: 'Barrier', ...handleOf(this.#state), action: this.#actionRef, timeout: this.#timeout };
  }

  get [Symbol.toStringTag](): string {
    return 'Barrier';
  }

  [inspect.custom](): string {
    const state = this.broken ? 'broken' : `${this.nWaiting} of ${this.parties} waiting`;
    return `Barrier { ${state} }`;
  }
}

registerHandleKind('Barrier', (data) =>
  reviveShared(
    data,
    Kind.Barrier,
    (state) => {
      const actionRef = data.action as ActionRef | undefined;
      const action = actionRef ? findLoadedExport(actionRef) : undefined;
      if (actionRef && !action) {
        throw new TypeError(
          `the Barrier's action ${actionRef.name} is not exported by ${actionRef.module}, or that module was not loaded in this process`,
        );
      }
      return revived.give(
        { state, action, actionRef, timeout: typeof data.timeout === 'number' ? data.timeout : Infinity },
        () => new Barrier(0),
      );
    },
    BARRIER.members,
  ),
);
