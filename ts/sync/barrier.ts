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
import { BrokenBarrierError } from '../base/errors';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { loadedExport, resolveExport } from '../base/modules';
import { drive, driveSync, sleep, type WaitSteps } from '../wait/driver';
import { BARRIER, Kind } from '../binding/layout';
import { deadlineAfter, describe, msArgument, remaining, waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';
import {
  BROKEN,
  BarrierCycle,
  GIVE_UP_LOCK_MS,
  LIVENESS_SLICE_MS,
  MAX_PARTIES,
  RESET,
  TIMED_OUT,
  words,
  type Arrival,
} from './barrier_cycle';

export { MAX_PARTIES };

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

export class Barrier implements Shareable {
  readonly #state: SharedState;
  readonly #c: BarrierCycle; // the shared state machine and its lock (barrier_cycle.ts)
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
    this.#c = new BarrierCycle(this.#state, this.#action !== undefined);
    remember(this.#state, this);
  }

  get parties(): number {
    return this.#c.get(BARRIER.parties);
  }

  /** How many are waiting now. */
  get nWaiting(): number {
    return this.#c.get(BARRIER.state) === BROKEN ? 0 : this.#c.get(BARRIER.count);
  }

  get broken(): boolean {
    return this.#c.get(BARRIER.state) === BROKEN;
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
    return driveSync(this.#state.segment, this.#steps(deadlineAfter(ms)));
  }

  // The wait, for both drivers.
  *#steps(deadline: number): WaitSteps<number> {
    const seq = this.#state.offset(BARRIER.seq);
    let a: Arrival | null = null;
    while (a === null) {
      let seen = 0;
      const r = yield* this.#c.critical(deadline, () => {
        seen = this.#c.get(BARRIER.seq);
        return this.#c.arrive();
      });
      if (r === TIMED_OUT) throw new BrokenBarrierError('the barrier timed out waiting for the other parties');
      a = r;
      if (a === null) {
        // A full cycle runs its action: wait for the next cycle.
        const left = remaining(deadline);
        if (left === 0) throw new BrokenBarrierError('the barrier timed out waiting for the other parties');
        const w = yield sleep(seq, seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
        if (w === 'timed-out' && this.#c.actionRunnerDied()) {
          const broke = yield* this.#c.critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#c.breakIfActionRunnerDied());
          if (broke === TIMED_OUT) this.#c.breakIfActionRunnerDied(); // its lock stays held: without it
        }
      }
    }
    const arrival = a;
    if (arrival.last) {
      const action = this.#action;
      if (!action) return arrival.index;
      const { failure } = (yield { run: () => action.call(this) }) as { failure: unknown };
      return this.#c.finishAction(arrival, failure, yield* this.#c.critical(deadline, () => this.#c.afterAction(arrival, failure)));
    }
    for (;;) {
      const seen = this.#c.get(BARRIER.seq);
      const done = this.#c.check(arrival);
      if (done !== undefined) return done;
      const left = remaining(deadline);
      let why: string | undefined;
      let aborted: unknown;
      if (left === 0) why = 'the barrier timed out waiting for the other parties';
      else {
        try {
          const r = yield sleep(seq, seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
          if (r === 'timed-out' && this.#c.neighbourDied(arrival)) why = 'a party of the barrier died while waiting';
        } catch (e) {
          // Aborted: this party leaves, which breaks the barrier for the others.
          why = 'a party of the barrier stopped waiting (its wait was aborted)';
          aborted = e;
        }
      }
      if (why !== undefined) {
        const reason = why;
        if (aborted === undefined) {
          const r = yield* this.#c.critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#c.giveUp(arrival, reason));
          return this.#c.givenUp(arrival, reason, r);
        }
        // Aborted: leave (breaking the barrier), unless the cycle ended first -- then it was passed.
        const r = yield* this.#c.critical(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#c.leave(arrival));
        if (r === TIMED_OUT) this.#c.breakUnlocked(arrival);
        if (r === TIMED_OUT || r === undefined) throw aborted as Error; // rethrown as caught
        return r;
      }
    }
  }

  /** Returns the barrier to its initial state, also when broken; current waiters get BrokenBarrierError. */
  reset(): void {
    this.#c.criticalSync(Infinity, () => this.#c.endCycle(RESET));
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until reset(). */
  abort(): void {
    // Under the lock, so that it falls cleanly before or after a cycle's
    // release. The lock is held only for a few statements, never across an
    // await (so not by this thread now); if a stopped process holds it,
    // break without it after GIVE_UP_LOCK_MS -- releases never overwrite
    // BROKEN, so the abort is not lost, though the parties of a cycle being
    // released in that instant may see either outcome.
    if (this.#c.criticalSync(deadlineAfter(GIVE_UP_LOCK_MS), () => this.#c.break()) === TIMED_OUT) this.#c.breakUnlocked();
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
      const found = actionRef ? loadedExport({ module: actionRef.module, exportName: actionRef.name }) : undefined;
      const action = typeof found === 'function' ? (found as () => unknown) : undefined;
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
