// Value / RawValue and SharedArray / RawArray: typed data in shared memory
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
import { inspect } from 'node:util';
import { corruptError } from '../base/errors';
import { describe } from '../base/validate';
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../share/handles';
import { DATA_OFFSET, Kind, STATE, VALUE, VALUE_HAS_LOCK } from '../binding/layout';
import { Lock, RLock, type AnyLock } from '../sync/lock';
import { SharedState, handleOf, remember, reviveShared } from '../shm/shared_state';
import {
  CANONICAL,
  fromStored,
  toInteger,
  toStored,
  typeInfo,
  type IntegerTypecode,
  type Typecode,
  type TypeInfo,
  type TypedArray,
  type ValueOf,
  type ViewOf,
} from './typecodes';

type LockOption = boolean | Lock | RLock;

export interface SharedValueOptions {
  /** true (default): an RLock of its own; false: none (Raw…); or a Lock/RLock to share (not with `name`). */
  lock?: LockOption;
  /** Open-or-create one shared by name (see LockOptions.name); the initial value applies only when it is created. */
  name?: string;
}

/** The most bytes one Value or SharedArray may hold (a typed array's limit in Node 20 is 2^32 elements). */
const MAX_BYTES = 2 ** 40;

function checkOptions(options: unknown, what: string): SharedValueOptions {
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

const stateWords = (info: TypeInfo, length: number): number =>
  (DATA_OFFSET - STATE * 4) / 4 + Math.ceil(Math.max(1, length * info.bytes) / 8) * 2;

// One-element arrays that wrap a sum as each type does.
const scratch = new Map<TypeInfo, TypedArray>();

// Set by the handle revivers for the constructors.
const revived = new Handoff<{ state: SharedState; lock: AnyLock | undefined }>();

// Shared by both: the segment, the typed view, the optional lock.
abstract class SharedData implements Shareable {
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

export class Value<C extends Typecode = Typecode> extends SharedData {
  constructor(typecode: C, initial?: ValueOf<C>, options?: SharedValueOptions) {
    const opts = checkOptions(options, 'Value');
    super(Kind.Value, typecode, 1, opts, (view) => {
      if (initial !== undefined) view[0] = toStored(typeInfo(typecode), initial, 'initial');
    });
    if (this.view.length !== 1) throw corruptError(`${this.state.describe()} is corrupt: a Value must hold one item`);
    remember(this.state, this);
  }

  get value(): ValueOf<C> {
    return this.locked(() => fromStored(this.info, this.view[0])) as ValueOf<C>;
  }

  set value(v: ValueOf<C>) {
    const stored = toStored(this.info, v, 'value');
    this.locked(() => {
      this.view[0] = stored;
    });
  }

  /** The typed view (a one-element typed array). */
  override get view(): ViewOf<C> {
    return super.view as ViewOf<C>;
  }

  /** Atomically adds n (integer typecodes; no lock needed) and returns the new value, wrapped as the type wraps. */
  add(this: C extends IntegerTypecode ? Value<C> : never, n: ValueOf<C>): ValueOf<C> {
    // (`this` is typed so that add() on a float or char Value does not compile.)
    return (this as Value<C>).atomicAdd(0, n) as ValueOf<C>;
  }

  /** Atomically replaces the value with `replacement` if it is `expected`; returns the value it found. */
  compareExchange(expected: ValueOf<C>, replacement: ValueOf<C>): ValueOf<C> {
    return this.atomicCompareExchange(0, expected, replacement) as ValueOf<C>;
  }

  [toHandle](): HandleData {
    return this.handleData('Value');
  }

  get [Symbol.toStringTag](): string {
    return 'Value';
  }

  [inspect.custom](depth: number, options: object): string {
    const name = this.state.userName !== undefined ? ` ${JSON.stringify(this.state.userName)}` : '';
    void depth;
    return `Value<${this.info.name}>${name} { ${inspect(fromStored(this.info, this.view[0]), options)} }`;
  }
}

/** A Value without a lock (sharedctypes.RawValue). */
export function RawValue<C extends Typecode>(typecode: C, initial?: ValueOf<C>): Value<C> {
  return new Value<C>(typecode, initial, { lock: false });
}

const INDEX = /^(?:0|[1-9]\d*)$/;
const bound = new WeakMap<object, Map<PropertyKey, unknown>>();

// Index access (arr[0], arr[0] = 9, `0 in arr`, Object.keys) on top of the
// class. Methods are bound to the instance, whose private fields a Proxy
// does not carry.
const indexAccess: ProxyHandler<SharedArray> = {
  get(target, key) {
    if (typeof key === 'string' && INDEX.test(key)) {
      const i = Number(key);
      return i < target.length ? target.get(i) : undefined;
    }
    const value = Reflect.get(target, key, target) as unknown;
    if (typeof value !== 'function' || key === 'constructor') return value;
    let cache = bound.get(target);
    if (!cache) bound.set(target, (cache = new Map<PropertyKey, unknown>()));
    let fn = cache.get(key);
    if (fn === undefined) cache.set(key, (fn = (value as (...a: unknown[]) => unknown).bind(target)));
    return fn;
  },
  set(target, key, value) {
    if (typeof key === 'string') {
      if (INDEX.test(key)) {
        target.set(Number(key), value as number);
        return true;
      }
      // Anything else set here would be a property of this process's object
      // only, not shared: refused, as a typed array ignores it but louder.
      if (key === 'length') throw new TypeError(`the length of a SharedArray is fixed (${target.length})`);
      if (key === '-0' || String(Number(key)) === key) {
        throw new RangeError(
          `index ${key} is out of range for a SharedArray of length ${target.length} ` +
            '(set(i, v) and get(i) also take negative indexes, from the end)',
        );
      }
      if (!(key in target)) {
        throw new TypeError(
          `a SharedArray has no property ${JSON.stringify(key)}: only its items (arr[0] to arr[${target.length - 1}]) are shared`,
        );
      }
    }
    return Reflect.set(target, key, value, target);
  },
  has(target, key) {
    if (typeof key === 'string' && INDEX.test(key)) return Number(key) < target.length;
    return Reflect.has(target, key);
  },
  ownKeys(target) {
    return [...Array.from({ length: target.length }, (_, i) => String(i)), ...Reflect.ownKeys(target)];
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === 'string' && INDEX.test(key) && Number(key) < target.length) {
      return { value: target.get(Number(key)), writable: true, enumerable: true, configurable: true };
    }
    return Reflect.getOwnPropertyDescriptor(target, key);
  },
};

export class SharedArray<C extends Typecode = Typecode> extends SharedData implements Iterable<ValueOf<C>> {
  [index: number]: ValueOf<C>;

  constructor(typecode: C, sizeOrItems: number | Iterable<ValueOf<C> | number | bigint | string>, options?: SharedValueOptions) {
    const opts = checkOptions(options, 'SharedArray');
    const reviving = revived.pending;
    typeInfo(typecode); // an unknown typecode fails before anything is allocated
    let items: unknown[] | undefined;
    let length = NaN;
    if (reviving) {
      length = NaN;
    } else if (typeof sizeOrItems === 'number') {
      if (!Number.isInteger(sizeOrItems)) throw new RangeError(`size must be an integer, got ${sizeOrItems}`);
      if (sizeOrItems < 0) throw new RangeError(`size must not be negative, got ${sizeOrItems}`);
      if (sizeOrItems > 2 ** 32) throw new RangeError(`size must be at most ${2 ** 32} (a typed array's limit), got ${sizeOrItems}`);
      length = sizeOrItems;
    } else if (typeof sizeOrItems === 'string' && !typeInfo(typecode).char) {
      // A string is items only for 'c' (Python's Array('c', b'abc')): '10' is not a size.
      throw new TypeError(
        `sizeOrItems must be a length (a number) or an iterable of values; a string is items only for typecode 'c', got ${describe(sizeOrItems)}`,
      );
    } else if (
      typeof sizeOrItems === 'string' ||
      (sizeOrItems !== null && typeof sizeOrItems === 'object' && Symbol.iterator in sizeOrItems)
    ) {
      items = [...sizeOrItems];
      length = items.length;
    } else {
      throw new TypeError(`sizeOrItems must be a length or an iterable of values, got ${describe(sizeOrItems)}`);
    }
    const info = typeInfo(typecode);
    const stored = items?.map((v, i) => toStored(info, v, `item ${i}`));
    super(Kind.SharedArray, typecode, reviving ? NaN : length, { ...opts, sizeGiven: typeof sizeOrItems === 'number' }, (view) => {
      stored?.forEach((v, i) => {
        view[i] = v;
      });
    });
    const proxy = new Proxy(this, indexAccess);
    remember(this.state, proxy);
    return proxy;
  }

  get length(): number {
    return this.view.length;
  }

  /** The typed view over the shared memory (no locking). */
  override get view(): ViewOf<C> {
    return super.view as ViewOf<C>;
  }

  #index(i: unknown): number {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`index must be an integer, got ${describe(i)}`);
    const n = this.view.length;
    const j = i < 0 ? n + i : i; // negative indexes count from the end, as in Python
    if (j < 0 || j >= n) throw new RangeError(`index ${i} is out of range for a SharedArray of length ${n}`);
    return j;
  }

  get(i: number): ValueOf<C> {
    const j = this.#index(i);
    return this.locked(() => fromStored(this.info, this.view[j])) as ValueOf<C>;
  }

  set(i: number, v: ValueOf<C>): void {
    const j = this.#index(i);
    const stored = toStored(this.info, v, 'value');
    this.locked(() => {
      this.view[j] = stored;
    });
  }

  /** Atomically adds n to item i (integer typecodes; no lock needed); returns the new value. */
  add(this: C extends IntegerTypecode ? SharedArray<C> : never, i: number, n: ValueOf<C>): ValueOf<C> {
    const self = this as SharedArray<C>;
    return self.atomicAdd(self.#index(i), n) as ValueOf<C>;
  }

  /** Atomically replaces item i with `replacement` if it is `expected`; returns the value it found. */
  compareExchange(i: number, expected: ValueOf<C>, replacement: ValueOf<C>): ValueOf<C> {
    return this.atomicCompareExchange(this.#index(i), expected, replacement) as ValueOf<C>;
  }

  /** A plain copy, taken under the lock. */
  toArray(): Array<ValueOf<C>> {
    return this.locked(() => Array.from(this.view as ArrayLike<number | bigint>, (x) => fromStored(this.info, x))) as Array<ValueOf<C>>;
  }

  /** The items, read under the lock one by one (use toArray() for a consistent copy). */
  *[Symbol.iterator](): Iterator<ValueOf<C>> {
    for (let i = 0; i < this.view.length; i++) yield this.get(i);
  }

  [toHandle](): HandleData {
    return this.handleData('SharedArray');
  }

  get [Symbol.toStringTag](): string {
    return 'SharedArray';
  }

  [inspect.custom](depth: number, options: object): string {
    const name = this.state.userName !== undefined ? ` ${JSON.stringify(this.state.userName)}` : '';
    const shown = Array.from(this.view.subarray(0, 20) as ArrayLike<number | bigint>, (x) => fromStored(this.info, x));
    void depth;
    const rest = this.view.length > 20 ? `, ... ${this.view.length - 20} more` : '';
    return `SharedArray<${this.info.name}>(${this.view.length})${name} ${inspect(shown, options).replace(/ ?]$/, `${rest} ]`)}`;
  }
}

/** A SharedArray without a lock (sharedctypes.RawArray). */
export function RawArray<C extends Typecode>(
  typecode: C,
  sizeOrItems: number | Iterable<ValueOf<C> | number | bigint | string>,
): SharedArray<C> {
  return new SharedArray<C>(typecode, sizeOrItems, { lock: false });
}

function revive<T extends object>(data: HandleData, kind: Kind, make: () => T): T {
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

registerHandleKind('Value', (data) => revive(data, Kind.Value, () => new Value(String(data.typecode) as Typecode)));
registerHandleKind('SharedArray', (data) => revive(data, Kind.SharedArray, () => new SharedArray(String(data.typecode) as Typecode, 0)));
