// What Value and SharedArray share (value.ts, shared_array.ts): typed data in shared memory
// (Python's multiprocessing.Value and Array, and sharedctypes' Raw* forms).
//
// Each lives in one segment (ts/binding/layout.ts VALUE): the header, an
// embedded RLock, what it holds (typecode, length), then the data; `view` is
// a zero-copy typed array over the data. With a lock (the default, an RLock
// as in Python), reading or writing `value` / get() / set() takes it;
// compound updates take getLock() around them:
// `await v.getLock().withLock(() => { v.value += 1; })`. Integer ones also
// have lock-free atomic helpers: `v.add(1)`, `v.compareExchange(a, b)`.
//
// `{ name }` opens-or-creates one that unrelated processes share by name
// (cluster workers), like a named Lock: its lock lives in its segment too.
import { Handoff } from '../base/handoff';
import { corruptError } from '../base/errors';
import { describe } from '../base/validate';
import { reopenHandle, toHandle, type HandleData, type Shareable } from '../share/handles';
import { DATA_OFFSET, Kind, STATE, VALUE, VALUE_HAS_LOCK } from '../binding/layout';
import { Lock, RLock, type AnyLock } from '../sync/lock';
import { handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';
import { CANONICAL, toInteger, typeInfo, type TypeInfo, type TypedArray } from './typecodes';

export type LockOption = boolean | Lock | RLock;

export interface SharedValueOptions {
  /** true (default): an RLock of its own; false: none (Raw…); or a Lock/RLock to share (not with `name`). */
  lock?: LockOption;
  /** Open-or-create one shared by name (see LockOptions.name); the initial value applies only when it is created. */
  name?: string;
}

/** The most bytes one Value or SharedArray may hold (a typed array's limit in Node 20 is 2^32 elements). */
export const MAX_BYTES = 2 ** 40;

export function checkOptions(options: unknown, what: string): SharedValueOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'lock' && key !== 'name') throw new TypeError(`unknown ${what} option ${JSON.stringify(key)}`);
  }
  const o = options as SharedValueOptions;
  if (o.lock !== undefined && typeof o.lock !== 'boolean' && !(o.lock instanceof Lock) && !(o.lock instanceof RLock)) {
    throw new TypeError(`options.lock must be true, false, a Lock or an RLock, got ${describe(o.lock)}`);
  }
  if (o.name !== undefined && typeof o.lock === 'object') {
    throw new TypeError(`a named ${what} carries its own lock: pass lock: true (the default) or false, not a Lock object`);
  }
  return o;
}

export const stateWords = (info: TypeInfo, length: number): number =>
  (DATA_OFFSET - STATE * 4) / 4 + Math.ceil(Math.max(1, length * info.bytes) / 8) * 2;

// One-element arrays that wrap a sum as each type does.
export const scratch = new Map<TypeInfo, TypedArray>();

// Set by the handle revivers for the constructors.
export const revived = new Handoff<{ state: SharedState; lock: AnyLock | undefined }>();

// Shared by both: the segment, the typed view, the optional lock.
export abstract class SharedData implements Shareable {
  // Accessors over private fields, not fields: a SharedArray's own keys are its indexes.
  readonly #state: SharedState;
  readonly #info: TypeInfo;
  readonly #typecode: string;
  readonly #view: TypedArray;
  readonly #lock: AnyLock | undefined;

  protected constructor(
    kind: Kind.Value | Kind.SharedArray,
    typecode: string,
    length: number,
    options: SharedValueOptions & { sizeGiven?: boolean },
    init: (view: TypedArray) => void,
  ) {
    this.#info = typeInfo(typecode);
    this.#typecode = typecode;
    const what = Kind[kind];
    let lock: AnyLock | undefined;
    const revival = revived.take();
    if (revival) {
      ({ state: this.#state, lock } = revival);
    } else {
      const own = options.lock === undefined || options.lock === true;
      if (length * this.info.bytes > MAX_BYTES)
        throw new RangeError(`a ${what} holds at most ${MAX_BYTES} bytes, got ${length} × ${this.info.bytes}`);
      this.#state = SharedState.createOrOpen(
        kind,
        stateWords(this.info, length),
        options.name,
        (s) => {
          s.i32[s.at(VALUE.typecode)] = this.info.index;
          s.i32[s.at(VALUE.flags)] = own ? VALUE_HAS_LOCK : 0;
          s.i32[s.at(VALUE.lengthLow)] = length % 2 ** 32;
          s.i32[s.at(VALUE.lengthHigh)] = Math.floor(length / 2 ** 32);
          init(new this.info.array(s.segment.buffer.buffer as ArrayBuffer, s.segment.buffer.byteOffset + DATA_OFFSET, length));
        },
        stateWords(this.info, 0),
      );
      if (typeof options.lock === 'object') lock = options.lock;
    }
    const s = this.state;
    // What the segment says it holds must be what this process expects, and fit.
    const found = CANONICAL[s.i32[s.at(VALUE.typecode)]];
    const stored = (s.i32[s.at(VALUE.lengthLow)] >>> 0) + (s.i32[s.at(VALUE.lengthHigh)] >>> 0) * 2 ** 32;
    if (!found || s.segment.size < DATA_OFFSET + stored * found.bytes) {
      throw corruptError(
        `${s.describe()} is corrupt: it says it holds ${stored} of typecode #${s.i32[s.at(VALUE.typecode)]}, more than its segment does`,
      );
    }
    if (found !== this.info) {
      throw new TypeError(`${s.describe()} holds ${found.name}, not ${this.info.name} (typecode ${JSON.stringify(typecode)})`);
    }
    if (kind === Kind.SharedArray && s.userName !== undefined && options.sizeGiven && stored !== length) {
      throw new RangeError(`${s.describe()} has ${stored} items, not ${length}`);
    }
    this.#view = new this.info.array(s.segment.buffer.buffer as ArrayBuffer, s.segment.buffer.byteOffset + DATA_OFFSET, stored);
    if (lock === undefined && (s.i32[s.at(VALUE.flags)] & VALUE_HAS_LOCK) !== 0) lock = RLock._embedded(s, VALUE.lock);
    this.#lock = lock;
  }

  protected get state(): SharedState {
    return this.#state;
  }

  protected get info(): TypeInfo {
    return this.#info;
  }

  get typecode(): string {
    return this.#typecode;
  }

  /** Zero-copy typed view over the shared memory (no locking). */
  get view(): TypedArray {
    return this.#view;
  }

  /** The lock guarding it; throws for a raw (lock: false) one. */
  getLock(): AnyLock {
    if (!this.#lock) throw new Error(`this ${this.constructor.name} has no lock (it was created with lock: false)`);
    return this.#lock;
  }

  protected locked<R>(fn: () => R): R {
    const lock = this.#lock;
    if (!lock) return fn();
    lock.acquireSync();
    try {
      return fn();
    } finally {
      lock.release();
    }
  }

  // The atomic helpers, on element i. Lock-free: they do not take the lock
  // (mixing them with locked read-modify-writes of the same element loses
  // updates; use one or the other for a given counter).
  protected atomicAdd(i: number, n: unknown): number | bigint {
    const d = toInteger(this.info, n, 'n');
    const view = this.#view as unknown as Int32Array & BigInt64Array;
    const old = Atomics.add(view, i, d as never) as number | bigint;
    // The new value as the element's type wraps it.
    let probe = scratch.get(this.info);
    if (!probe) scratch.set(this.info, (probe = new this.info.array(1)));
    probe[0] = typeof old === 'bigint' ? old + (d as bigint) : old + (d as number);
    return probe[0];
  }

  protected atomicCompareExchange(i: number, expected: unknown, replacement: unknown): number | bigint {
    const e = toInteger(this.info, expected, 'expected');
    const r = toInteger(this.info, replacement, 'replacement');
    const view = this.#view as unknown as Int32Array & BigInt64Array;
    return Atomics.compareExchange(view, i, e as never, r as never);
  }

  /** Removes a named one's name; processes that have it open keep using it. */
  unlink(): void {
    this.state.unlink();
  }

  protected handleData(kind: string): HandleData {
    return {
      kind,
      typecode: this.#typecode,
      ...handleOf(this.state),
      lock: this.#lock && (this.state.i32[this.state.at(VALUE.flags)] & VALUE_HAS_LOCK) === 0 ? this.#lock[toHandle]() : null,
    };
  }

  abstract [toHandle](): HandleData;
}

export function revive<T extends object>(data: HandleData, kind: Kind, make: () => T): T {
  return reviveShared(
    data,
    kind,
    (state) => {
      const lock = data.lock ? (reopenHandle(data.lock as HandleData) as AnyLock) : undefined;
      return revived.give({ state, lock }, make);
    },
    (DATA_OFFSET - STATE * 4) / 4,
  );
}
