// Event: a flag in one shared wait cell. set() stores 1 and wakes every
// sleeper (only if one announced itself); wait() sleeps while the flag is 0.
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { wait } from '../wait/wait';
import { EVENT, Kind } from '../binding/layout';
import { deadlineAfter, msArgument, remaining, describe } from '../base/validate';
import { SharedState, handleOf, remember, reviveShared } from '../shm/shared_state';

export interface EventOptions {
  /** Open-or-create an event shared by name (see LockOptions.name). */
  name?: string;
}

let revived: SharedState | undefined;

export class Event implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #flag: number;
  readonly #offset: number;

  constructor(options?: EventOptions) {
    if (revived) {
      this.#state = revived;
      revived = undefined;
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

  /** Resolves true once set, false if timeoutMs passed first (the event loop stays free). */
  async wait(timeoutMs?: number, options?: { signal?: AbortSignal }): Promise<boolean> {
    const deadline = deadlineAfter(msArgument(timeoutMs));
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
    while (!this.isSet()) {
      const left = remaining(deadline);
      if (left === 0) return false;
      await wait(this.#state.segment, this.#offset, 0, { timeout: left, signal });
    }
    return true;
  }

  /** Blocks the thread until set; false if timeoutMs passed first. */
  waitSync(timeoutMs?: number): boolean {
    const deadline = deadlineAfter(msArgument(timeoutMs));
    const native = addon();
    while (!this.isSet()) {
      const left = remaining(deadline);
      if (left === 0) return false;
      native.waitSync(this.#state.segment, this.#offset, 0, left);
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
      revived = state;
      return new Event();
    },
    EVENT.words,
  ),
);
