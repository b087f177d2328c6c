// SharedArray / RawArray: typed items in shared memory (Python's multiprocessing.Array).
import { inspect } from 'node:util';
import { describe } from '../base/validate';
import { registerHandleKind, toHandle, type HandleData } from '../share/handles';
import { Kind } from '../binding/layout';
import { remember } from '../shm/holds';
import { fromStored, toStored, typeInfo, type IntegerTypecode, type Typecode, type ValueOf, type ViewOf } from './typecodes';
import { SharedData, checkOptions, revive, revived, type SharedValueOptions } from './shared_data';

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
    super(
      Kind.SharedArray,
      typecode,
      reviving ? NaN : length,
      { ...opts, sizeGiven: !reviving && typeof sizeOrItems === 'number' },
      (view) => {
        stored?.forEach((v, i) => {
          view[i] = v;
        });
      },
    );
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

registerHandleKind('SharedArray', (data) => revive(data, Kind.SharedArray, () => new SharedArray(String(data.typecode) as Typecode, 0)));
