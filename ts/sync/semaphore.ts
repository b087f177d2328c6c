// Semaphore and BoundedSemaphore: a counter in one shared wait cell.
// acquire takes one unit with a compare-and-swap (JavaScript, no addon call);
// only an empty semaphore makes the caller sleep in the addon. release adds
// and wakes only if someone announced a sleep.
import { addon } from '../addon';
import { describe } from '../names';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../handles';
import { wait } from '../wait';
import { Kind, SEMAPHORE } from './layout';
import { asyncOptions, deadlineAfter, remaining, syncTimeout, type AsyncOptions, type SyncOptions } from './options';
import { SharedState, remember, reuseOrOpen } from './shared_state';

const MAX_VALUE = 0x7fffffff;

export interface SemaphoreOptions {
  /** Open-or-create a semaphore shared by name (see LockOptions.name). The value applies only when it is created. */
  name?: string;
}

let revived: SharedState | undefined;

export class Semaphore implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #value: number;
  readonly #max: number;
  readonly #offset: number;

  constructor(value = 1, options?: SemaphoreOptions) {
    const kind = new.target === BoundedSemaphore ? Kind.BoundedSemaphore : Kind.Semaphore;
    if (revived) {
      this.#state = revived;
      revived = undefined;
    } else {
      if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`value must be a number, got ${describe(value)}`);
      if (!Number.isInteger(value) || value < 0 || value > MAX_VALUE) {
        throw new RangeError(`value must be an integer from 0 to ${MAX_VALUE}, got ${value}`);
      }
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new TypeError(`${Kind[kind]} options must be an object, got ${describe(options)}`);
      }
      for (const key of Object.keys(options ?? {})) {
        if (key !== 'name') throw new TypeError(`unknown ${Kind[kind]} option ${JSON.stringify(key)}`);
      }
      this.#state = SharedState.createOrOpen(kind, SEMAPHORE.words, options?.name, (s) => {
        s.i32[s.at(SEMAPHORE.value)] = value;
        s.i32[s.at(SEMAPHORE.max)] = kind === Kind.BoundedSemaphore ? value : MAX_VALUE;
      });
    }
    this.#i32 = this.#state.i32;
    this.#value = this.#state.at(SEMAPHORE.value);
    this.#max = this.#state.at(SEMAPHORE.max);
    this.#offset = this.#state.offset(SEMAPHORE.value);
    remember(this.#state, this);
  }

  #tryTake(): boolean {
    for (;;) {
      const v = Atomics.load(this.#i32, this.#value);
      if (v === 0) return false;
      if (Atomics.compareExchange(this.#i32, this.#value, v, v - 1) === v) return true;
    }
  }

  /** Takes one unit, blocking the thread while there is none; false on timeout or `block: false`. */
  acquireSync(options?: SyncOptions): boolean {
    const timeout = syncTimeout(options, 'acquireSync');
    if (this.#tryTake()) return true;
    if (timeout === 0) return false;
    const deadline = deadlineAfter(timeout);
    const native = addon();
    for (;;) {
      const left = remaining(deadline);
      if (left === 0) return false;
      native.waitSync(this.#state.segment, this.#offset, 0, left);
      if (this.#tryTake()) return true;
    }
  }

  /** Takes one unit without blocking the event loop; resolves false on timeout. */
  async acquire(options?: AsyncOptions): Promise<boolean> {
    const { timeout, signal } = asyncOptions(options, 'acquire');
    if (this.#tryTake()) return true;
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const left = remaining(deadline);
      if (left === 0) return false;
      await wait(this.#state.segment, this.#offset, 0, { timeout: left, signal });
      if (this.#tryTake()) return true;
    }
  }

  /** Adds n units (default 1), waking up to n waiters. */
  release(n = 1): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${describe(n)}`);
    const max = this.#i32[this.#max]!;
    for (;;) {
      const v = Atomics.load(this.#i32, this.#value);
      if (v + n > max) {
        throw new RangeError(this.#state.kind === Kind.BoundedSemaphore
          ? `BoundedSemaphore released too many times: value ${v} + ${n} would exceed its initial value ${max}`
          : `Semaphore value ${v} + ${n} would exceed ${MAX_VALUE}`);
      }
      if (Atomics.compareExchange(this.#i32, this.#value, v, v + n) === v) break;
    }
    if (Atomics.load(this.#i32, this.#value + 1) !== 0) addon().wake(this.#state.segment, this.#offset, n);
  }

  getValue(): number {
    return Atomics.load(this.#i32, this.#value);
  }

  /** Removes a named semaphore's name; processes that have it open keep using it. */
  unlink(): void {
    this.#state.unlink();
  }

  [toHandle](): HandleData {
    return { kind: Kind[this.#state.kind], name: this.#state.name, userName: this.#state.userName };
  }

  get [Symbol.toStringTag](): string {
    return Kind[this.#state.kind];
  }

  /** @internal */
  static _reopen(Type: typeof Semaphore, data: HandleData, kind: Kind): Semaphore {
    return reuseOrOpen(String(data.name), () => {
      revived = SharedState.open(String(data.name), kind, data.userName as string | undefined);
      return new Type();
    });
  }
}

/** A Semaphore that refuses (RangeError) to be released above its initial value. */
export class BoundedSemaphore extends Semaphore {}

registerHandleKind('Semaphore', (data) => Semaphore._reopen(Semaphore, data, Kind.Semaphore));
registerHandleKind('BoundedSemaphore', (data) => Semaphore._reopen(BoundedSemaphore, data, Kind.BoundedSemaphore));
