// Semaphore and BoundedSemaphore: a counter in one shared wait cell.
// acquire takes one unit with a compare-and-swap (JavaScript, no addon call);
// only an empty semaphore makes the caller sleep in the addon. release adds
// and wakes only if someone announced a sleep.
//
// A unit taken by a process that dies is lost for good, as in Python: no
// one knows who held it. `trackHolders: true` records, per thread, how many
// units it holds (entries.ts); a waiter that finds no unit for a while
// checks the holders, gives back the units of dead ones and takes one. The
// price: release() must come from a thread that holds a unit (as an
// RLock's), and two more atomic operations per acquire and release.
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { corruptError } from '../base/errors';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { drive, driveSync, sleep, spinWhile, type WaitSteps } from '../wait/driver';
import { Entries } from '../shm/entries';
import { Kind, SEMAPHORE, SEMAPHORE_TRACKED } from '../binding/layout';
import { asyncOptions, deadlineAfter, remaining, syncTimeout, type AsyncOptions, type SyncOptions, describe } from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';

const MAX_VALUE = 0x7fffffff;
/** How long a waiter waits before it looks for units held by dead threads. */
const LIVENESS_SLICE_MS = 20;

export interface SemaphoreOptions {
  /** Open-or-create a semaphore shared by name (see LockOptions.name). The value applies only when it is created. */
  name?: string;
  /**
   * Record who holds units, so that the units of a process (or thread) that
   * dies are given back; release() must then come from a holder. Default
   * false (Python's semaphore). Applies only when the semaphore is created.
   */
  trackHolders?: boolean;
}

const revived = new Handoff<SharedState>();

export class Semaphore implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #value: number;
  readonly #max: number;
  readonly #offset: number;
  readonly #holders: Entries | undefined;
  #mine = -1; // this thread's holder entry (a hint)

  constructor(value = 1, options?: SemaphoreOptions) {
    const kind = new.target === BoundedSemaphore ? Kind.BoundedSemaphore : Kind.Semaphore;
    const revival = revived.take();
    if (revival) {
      this.#state = revival;
    } else {
      if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`value must be a number, got ${describe(value)}`);
      if (!Number.isInteger(value) || value < 0 || value > MAX_VALUE) {
        throw new RangeError(`value must be an integer from 0 to ${MAX_VALUE}, got ${value}`);
      }
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new TypeError(`${Kind[kind]} options must be an object, got ${describe(options)}`);
      }
      for (const key of Object.keys(options ?? {})) {
        if (key !== 'name' && key !== 'trackHolders') throw new TypeError(`unknown ${Kind[kind]} option ${JSON.stringify(key)}`);
      }
      const track = options?.trackHolders ?? false;
      if (typeof track !== 'boolean') throw new TypeError(`options.trackHolders must be a boolean, got ${describe(track)}`);
      const words = SEMAPHORE.holders + (track ? SEMAPHORE.entries * SEMAPHORE.entryWords : 0);
      this.#state = SharedState.createOrOpen(kind, words, options?.name, (s) => {
        s.i32[s.at(SEMAPHORE.value)] = value;
        s.i32[s.at(SEMAPHORE.max)] = kind === Kind.BoundedSemaphore ? value : MAX_VALUE;
        s.i32[s.at(SEMAPHORE.flags)] = track ? SEMAPHORE_TRACKED : 0;
      });
    }
    const s = this.#state;
    this.#i32 = s.i32;
    this.#value = s.at(SEMAPHORE.value);
    this.#max = s.at(SEMAPHORE.max);
    this.#offset = s.offset(SEMAPHORE.value);
    if ((this.#i32[s.at(SEMAPHORE.flags)] & SEMAPHORE_TRACKED) !== 0) {
      if (this.#i32.length < s.at(SEMAPHORE.holders + SEMAPHORE.entries * SEMAPHORE.entryWords)) {
        throw corruptError(`${s.describe()} says it tracks its holders, but its segment has no room for them`);
      }
      this.#holders = new Entries(this.#i32, s.at(SEMAPHORE.holders), SEMAPHORE.entries, SEMAPHORE.entryWords);
    }
    remember(s, this);
  }

  #tryTake(): boolean {
    for (;;) {
      const v = Atomics.load(this.#i32, this.#value);
      if (v <= 0) return false;
      if (Atomics.compareExchange(this.#i32, this.#value, v, v - 1) === v) {
        if (this.#holders) this.#record(+1);
        return true;
      }
    }
  }

  // Tracked: this thread's count of units, in its entry.
  #record(delta: number): void {
    const h = this.#holders!;
    let i = h.find(undefined, this.#mine);
    if (i < 0) {
      i = h.claim();
      if (i < 0) {
        // Every entry taken: give the unit back rather than hold it untracked.
        this.#add(1);
        throw new RangeError(`more than ${h.count} threads hold units of this Semaphore at once: it cannot track more`);
      }
    }
    this.#mine = i;
    Atomics.add(this.#i32, h.word(i, 2), delta);
  }

  // Gives back the units of holders that died; true if any came back.
  #recover(): boolean {
    const h = this.#holders;
    if (!h) return false;
    let units = 0;
    h.purge((i, id) => {
      // Whoever wins the dead entry gives its units back, once.
      h.reclaim(i, id, () => {
        units += Math.max(0, Atomics.exchange(this.#i32, h.word(i, 2), 0));
      });
    });
    if (units > 0) this.#add(units);
    return units > 0;
  }

  /** Takes one unit, blocking the thread while there is none; false on timeout or `block: false`. */
  acquireSync(options?: SyncOptions | number): boolean {
    const timeout = syncTimeout(options, 'acquireSync');
    if (this.#tryTake()) return true;
    if (timeout !== 0 && spinWhile(this.#i32, this.#value, 0) && this.#tryTake()) return true;
    return driveSync(this.#state.segment, this.#steps(deadlineAfter(timeout)));
  }

  /** Takes one unit without blocking the event loop; resolves false on timeout. */
  async acquire(options?: AsyncOptions | number): Promise<boolean> {
    const { timeout, signal } = asyncOptions(options, 'acquire');
    if (this.#tryTake()) return true;
    return drive(this.#state.segment, this.#steps(deadlineAfter(timeout)), signal);
  }

  // The wait of both: sleep while the value is 0; a tracked semaphore looks
  // for units of dead holders every LIVENESS_SLICE_MS, and once more at the deadline.
  *#steps(deadline: number): WaitSteps<boolean> {
    for (;;) {
      const left = remaining(deadline);
      if (left === 0) return this.#recover() && this.#tryTake();
      const slice = this.#holders ? Math.min(left ?? Infinity, LIVENESS_SLICE_MS) : left;
      if ((yield sleep(this.#offset, 0, slice)) === 'timed-out') this.#recover();
      if (this.#tryTake()) return true;
    }
  }

  #add(n: number): void {
    const max = this.#i32[this.#max];
    for (;;) {
      const v = Atomics.load(this.#i32, this.#value);
      if (v + n > max) {
        throw new RangeError(
          this.#state.kind === Kind.BoundedSemaphore
            ? `BoundedSemaphore released too many times: value ${v} + ${n} would exceed its initial value ${max}`
            : `Semaphore value ${v} + ${n} would exceed ${MAX_VALUE}`,
        );
      }
      if (Atomics.compareExchange(this.#i32, this.#value, v, v + n) === v) break;
    }
    if (Atomics.load(this.#i32, this.#value + 1) !== 0) addon().wake(this.#state.segment, this.#offset, n);
  }

  /** Adds n units (default 1), waking up to n waiters. */
  release(n = 1): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_VALUE) {
      throw new RangeError(`n must be an integer from 1 to ${MAX_VALUE}, got ${describe(n)}`);
    }
    if (this.#holders) {
      const h = this.#holders;
      const i = h.find(undefined, this.#mine);
      const held = i < 0 ? 0 : Atomics.load(this.#i32, h.word(i, 2));
      if (held < n) {
        throw new Error(
          `release(${n}) by a thread that holds ${held} unit${held === 1 ? '' : 's'} of this Semaphore ` +
            '(it tracks its holders: only a holder may release)',
        );
      }
      Atomics.sub(this.#i32, h.word(i, 2), n);
    }
    this.#add(n);
  }

  getValue(): number {
    return Atomics.load(this.#i32, this.#value);
  }

  /** Removes a named semaphore's name; processes that have it open keep using it. */
  unlink(): void {
    this.#state.unlink();
  }

  [toHandle](): HandleData {
    return { kind: Kind[this.#state.kind], ...handleOf(this.#state) };
  }

  get [Symbol.toStringTag](): string {
    return Kind[this.#state.kind];
  }

  [inspect.custom](): string {
    const name = this.#state.userName !== undefined ? ` ${JSON.stringify(this.#state.userName)}` : '';
    const max = this.#i32[this.#max];
    const bound = this.#state.kind === Kind.BoundedSemaphore ? `, max ${max}` : '';
    return `${Kind[this.#state.kind]}${name} { value ${this.getValue()}${bound}${this.#holders ? ', tracks holders' : ''} }`;
  }

  /** @internal */
  static _reopen(Type: typeof Semaphore, data: HandleData, kind: Kind): Semaphore {
    return reviveShared(
      data,
      kind,
      (state) => {
        return revived.give(state, () => new Type());
      },
      SEMAPHORE.holders,
    );
  }
}

/** A Semaphore that refuses (RangeError) to be released above its initial value. */
export class BoundedSemaphore extends Semaphore {}

registerHandleKind('Semaphore', (data) => Semaphore._reopen(Semaphore, data, Kind.Semaphore));
registerHandleKind('BoundedSemaphore', (data) => Semaphore._reopen(BoundedSemaphore, data, Kind.BoundedSemaphore));
