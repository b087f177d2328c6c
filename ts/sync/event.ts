// Event: a flag in one shared wait cell. set() stores 1 and wakes every
// sleeper (only if one announced itself); wait() sleeps while the flag is 0.
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { drive, driveSync, sleep, spinWhile, type WaitSteps } from '../wait/driver';
import { EVENT, Kind } from '../binding/layout';
import { deadlineAfter, describe, remaining, waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';

export interface EventOptions {
  /** Open-or-create an event shared by name (see LockOptions.name). */
  name?: string;
}

const revived = new Handoff<SharedState>();

export class Event implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #flag: number;
  readonly #offset: number;

  constructor(options?: EventOptions) {
    const revival = revived.take();
    if (revival) {
      this.#state = revival;
    } else {
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new TypeError(`Event options must be an object, got ${describe(options)}`);
      }
      for (const key of Object.keys(options ?? {})) {
        if (key !== 'name') throw new TypeError(`unknown Event option ${JSON.stringify(key)}`);
      }
      this.#state = SharedState.createOrOpen(Kind.Event, EVENT.words, options?.name, () => {});
    }
    this.#i32 = this.#state.i32;
    this.#flag = this.#state.at(EVENT.flag);
    this.#offset = this.#state.offset(EVENT.flag);
    remember(this.#state, this);
  }

  isSet(): boolean {
    return Atomics.load(this.#i32, this.#flag) === 1;
  }

  /** Sets the flag and wakes every waiter, in every process. */
  set(): void {
    Atomics.store(this.#i32, this.#flag, 1);
    if (Atomics.load(this.#i32, this.#flag + 1) !== 0) addon().wake(this.#state.segment, this.#offset);
  }

  clear(): void {
    Atomics.store(this.#i32, this.#flag, 0);
  }

  /**
   * Resolves true once set, false if the timeout passed first (the event loop
   * stays free). The timeout is ms, as in Python's `wait(timeout)`, or given
   * with a signal: `wait({ timeout, signal })`, or `wait(ms, { signal })`.
   */
  async wait(timeout?: number | WaitOptions, options?: WaitOptions): Promise<boolean> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'Event.wait');
    return drive(this.#state.segment, this.#steps(deadlineAfter(ms)), signal);
  }

  /** Blocks the thread until set; false if the timeout (ms, or `{ timeout }`) passed first. */
  waitSync(timeout?: number | SyncWaitOptions): boolean {
    const { timeout: ms } = waitArguments(timeout, undefined, 'Event.waitSync', false);
    if (this.isSet() || (ms !== 0 && spinWhile(this.#i32, this.#flag, 0))) return true;
    return driveSync(this.#state.segment, this.#steps(deadlineAfter(ms)));
  }

  *#steps(deadline: number): WaitSteps<boolean> {
    while (!this.isSet()) {
      const left = remaining(deadline);
      if (left === 0) return false;
      yield sleep(this.#offset, 0, left);
    }
    return true;
  }

  unlink(): void {
    this.#state.unlink();
  }

  [toHandle](): HandleData {
    return { kind: 'Event', ...handleOf(this.#state) };
  }

  get [Symbol.toStringTag](): string {
    return 'Event';
  }

  [inspect.custom](): string {
    const name = this.#state.userName !== undefined ? ` ${JSON.stringify(this.#state.userName)}` : '';
    return `Event${name} { ${this.isSet() ? 'set' : 'not set'} }`;
  }
}

registerHandleKind('Event', (data) =>
  reviveShared(
    data,
    Kind.Event,
    (state) => {
      return revived.give(state, () => new Event());
    },
    EVENT.words,
  ),
);
