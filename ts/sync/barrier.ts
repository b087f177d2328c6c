// Barrier: Python's threading.Barrier (which multiprocessing shares between
// processes), with its state machine kept in shared memory and guarded by a
// Condition. The algorithm is written once, as a generator of the waits it
// needs; wait() drives it asynchronously and waitSync() synchronously.
//
// The action runs in whichever process arrives last, so every process must
// be able to find it: pass an exported function (of the main script, or name
// its module with `actionModule`), as for Process targets.
import { pathToFileURL } from 'node:url';
import { BrokenBarrierError } from '../errors';
import { describe } from '../names';
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../handles';
import { state as processState } from '../state';
import { BARRIER, Kind } from './layout';
import { Condition } from './condition';
import { Lock } from './lock';
import { msArgument } from './options';
import { SharedState, remember, reuseOrOpen } from './shared_state';

const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;

export interface BarrierOptions {
  /** Called by one process (the last to arrive) before the others are released. */
  action?: () => unknown;
  /** The module that exports `action` (path, URL or import.meta.url). Default: the main script. */
  actionModule?: string | URL;
  /** Default timeout of wait(), in milliseconds. */
  timeout?: number;
}

// What the generator asks its driver to do, with the condition lock held.
type Step = { waitFor: () => boolean; timeout: number } | { action: () => unknown };

let revived: { state: SharedState; cond: Condition; action?: () => unknown; actionRef?: ActionRef; timeout: number } | undefined;

interface ActionRef {
  module: string;
  name: string;
}

/** Functions exported by modules this process imported through multiproc (for revived actions). */
export function findLoadedExport(ref: ActionRef): (() => unknown) | undefined {
  const ns = processState.loadedModules.get(ref.module);
  const value = ns?.[ref.name] ?? (ns?.default as Record<string, unknown> | undefined)?.[ref.name];
  return typeof value === 'function' ? (value as () => unknown) : undefined;
}

export class Barrier implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #cond: Condition;
  readonly #action: (() => unknown) | undefined;
  readonly #actionRef: ActionRef | undefined;
  readonly #timeout: number;

  constructor(parties: number, options: BarrierOptions = {}) {
    if (revived) {
      ({ state: this.#state, cond: this.#cond, action: this.#action, actionRef: this.#actionRef, timeout: this.#timeout } = revived);
      revived = undefined;
    } else {
      if (typeof parties !== 'number' || !Number.isInteger(parties)) throw new TypeError(`parties must be an integer, got ${describe(parties)}`);
      if (parties < 1) throw new RangeError(`parties must be at least 1, got ${parties}`);
      if (typeof options !== 'object' || options === null) throw new TypeError(`Barrier options must be an object, got ${describe(options)}`);
      for (const key of Object.keys(options)) {
        if (!['action', 'actionModule', 'timeout'].includes(key)) throw new TypeError(`unknown Barrier option ${JSON.stringify(key)}`);
      }
      const { action, actionModule } = options;
      if (action !== undefined && typeof action !== 'function') throw new TypeError(`options.action must be a function, got ${describe(action)}`);
      this.#timeout = msArgument(options.timeout, 'options.timeout');
      this.#action = action;
      if (action) {
        const module = actionModule instanceof URL ? actionModule.href
          : typeof actionModule === 'string' ? (actionModule.startsWith('file:') ? actionModule : pathToFileURL(actionModule).href)
            : processState.mainModule ? pathToFileURL(processState.mainModule).href : undefined;
        this.#actionRef = module && action.name ? { module, name: action.name } : undefined;
      }
      this.#cond = new Condition(new Lock());
      this.#state = SharedState.createOrOpen(Kind.Barrier, BARRIER.words, undefined, (s) => {
        s.i32[s.at(BARRIER.parties)] = parties;
      });
    }
    this.#i32 = this.#state.i32;
    remember(this.#state, this);
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
    return this.#get(BARRIER.state) === FILLING ? this.#get(BARRIER.count) : 0;
  }

  get broken(): boolean {
    return this.#get(BARRIER.state) === BROKEN;
  }

  // Python's Barrier.wait, with the lock held throughout (Condition.waitFor
  // releases it while sleeping). Returns the arrival index.
  *#steps(timeout: number): Generator<Step, number, unknown> {
    // _enter: block while the barrier drains or resets.
    yield { waitFor: () => ![RESETTING, DRAINING].includes(this.#get(BARRIER.state)), timeout: Infinity };
    if (this.#get(BARRIER.state) < 0) throw new BrokenBarrierError('the barrier is broken');
    const index = this.#get(BARRIER.count);
    this.#set(BARRIER.count, index + 1);
    try {
      if (index + 1 === this.parties) {
        // _release: the last one in runs the action and lets everyone go.
        try {
          if (this.#action) yield { action: this.#action };
          this.#set(BARRIER.state, DRAINING);
          this.#cond.notifyAll();
        } catch (e) {
          this.#break();
          throw e;
        }
      } else {
        // _wait
        let released = false;
        yield { waitFor: () => (released = this.#get(BARRIER.state) !== FILLING), timeout };
        if (!released) {
          this.#break();
          throw new BrokenBarrierError('the barrier timed out waiting for the other parties');
        }
        if (this.#get(BARRIER.state) < 0) throw new BrokenBarrierError('the barrier was broken while waiting');
      }
      return index;
    } finally {
      // _exit: the last one out re-opens a draining or resetting barrier.
      const count = this.#get(BARRIER.count) - 1;
      this.#set(BARRIER.count, count);
      if (count === 0 && [RESETTING, DRAINING].includes(this.#get(BARRIER.state))) {
        this.#set(BARRIER.state, FILLING);
        this.#cond.notifyAll();
      }
    }
  }

  #break(): void {
    this.#set(BARRIER.state, BROKEN);
    this.#cond.notifyAll();
  }

  /** Waits for all parties; resolves with this caller's arrival index (0 .. parties-1). Rejects with BrokenBarrierError. */
  async wait(timeoutMs?: number): Promise<number> {
    const timeout = timeoutMs === undefined ? this.#timeout : msArgument(timeoutMs);
    await this.#cond.acquire();
    try {
      const steps = this.#steps(timeout);
      let next = steps.next();
      while (!next.done) {
        const step = next.value;
        let failed = false;
        let result: unknown;
        try {
          result = 'action' in step ? await step.action() : await this.#cond.waitFor(step.waitFor, step.timeout);
        } catch (e) {
          failed = true;
          result = e;
        }
        // A failure goes back into the generator, so its catch (break the
        // barrier) and finally (leave the count right) run.
        next = failed ? steps.throw(result) : steps.next(result);
      }
      return next.value;
    } finally {
      this.#cond.release();
    }
  }

  /** wait() that blocks the thread. An async action's promise is not awaited: give waitSync() a synchronous action. */
  waitSync(timeoutMs?: number): number {
    const timeout = timeoutMs === undefined ? this.#timeout : msArgument(timeoutMs);
    this.#cond.acquireSync();
    try {
      const steps = this.#steps(timeout);
      let next = steps.next();
      while (!next.done) {
        const step = next.value;
        let failed = false;
        let result: unknown;
        try {
          result = 'action' in step ? step.action() : this.#cond.waitForSync(step.waitFor, step.timeout);
        } catch (e) {
          failed = true;
          result = e;
        }
        next = failed ? steps.throw(result) : steps.next(result);
      }
      return next.value;
    } finally {
      this.#cond.release();
    }
  }

  /** Returns the barrier to its initial state; current waiters get BrokenBarrierError. */
  reset(): void {
    this.#cond.acquireSync();
    try {
      if (this.#get(BARRIER.count) > 0) {
        const s = this.#get(BARRIER.state);
        if (s === FILLING || s === BROKEN) this.#set(BARRIER.state, RESETTING);
      } else {
        this.#set(BARRIER.state, FILLING);
      }
      this.#cond.notifyAll();
    } finally {
      this.#cond.release();
    }
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until reset(). */
  abort(): void {
    this.#cond.acquireSync();
    try {
      this.#break();
    } finally {
      this.#cond.release();
    }
  }

  [toHandle](): HandleData {
    if (this.#action && !this.#actionRef) {
      throw new TypeError('this Barrier\'s action cannot be sent to another process: make it a named, exported function ' +
        '(of the main script, or give its module as options.actionModule)');
    }
    return { kind: 'Barrier', name: this.#state.name, cond: this.#cond[toHandle](), action: this.#actionRef, timeout: this.#timeout };
  }

  get [Symbol.toStringTag](): string {
    return 'Barrier';
  }
}

registerHandleKind('Barrier', (data) => reuseOrOpen(String(data.name), () => {
  const actionRef = data.action as ActionRef | undefined;
  const action = actionRef ? findLoadedExport(actionRef) : undefined;
  if (actionRef && !action) {
    throw new TypeError(`the Barrier's action ${actionRef.name} is not exported by ${actionRef.module}, or that module was not loaded in this process`);
  }
  revived = {
    state: SharedState.open(String(data.name), Kind.Barrier),
    cond: reopenHandle(data.cond as HandleData) as Condition,
    action, actionRef, timeout: typeof data.timeout === 'number' ? data.timeout : Infinity,
  };
  return new Barrier(0);
}));
