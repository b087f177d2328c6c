// Value / RawValue and SharedArray / RawArray: typed data in shared memory
// (Python's multiprocessing.Value and Array, and sharedctypes' Raw* forms).
// The data lives in a SharedMemory segment; `view` is a zero-copy typed
// array over it. With a lock (the default, an RLock as in Python), reading or
// writing `value` / get() / set() takes it; compound updates take getLock()
// around them: `await v.getLock().withLock(() => { v.value += 1; })`.
import { describe } from './names';
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from './handles';
import { unlinkWhenCollected } from './lifetime';
import { SharedMemory } from './shared_memory';
import { Lock, RLock, type AnyLock } from './sync/lock';
import { fromStored, toStored, typeInfo, type TypeInfo, type TypedArray } from './typecodes';

type LockOption = boolean | Lock | RLock;

function lockFrom(option: unknown): AnyLock | undefined {
  if (option === undefined || option === true) return new RLock();
  if (option === false) return undefined;
  if (option instanceof Lock || option instanceof RLock) return option;
  throw new TypeError(`options.lock must be true, false, a Lock or an RLock, got ${describe(option)}`);
}

function checkOptions(options: unknown, what: string): { lock?: LockOption } {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'lock') throw new TypeError(`unknown ${what} option ${JSON.stringify(key)}`);
  }
  return options as { lock?: LockOption };
}

// Shared by both: the segment, the typed view, the optional lock.
abstract class SharedData implements Shareable {
  protected readonly shm: SharedMemory;
  protected readonly info: TypeInfo;
  readonly #typecode: string;
  readonly #view: TypedArray;
  readonly #lock: AnyLock | undefined;

  protected constructor(typecode: string, length: number, shm: SharedMemory | undefined, lock: AnyLock | undefined) {
    this.info = typeInfo(typecode);
    this.#typecode = typecode;
    this.shm = shm ?? new SharedMemory({ create: true, size: Math.max(1, length * this.info.bytes) });
    if (!shm) unlinkWhenCollected(this, this.shm.name);
    this.#view = new this.info.array(this.shm.buf.buffer as ArrayBuffer, this.shm.buf.byteOffset, length) as TypedArray;
    this.#lock = lock;
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

  protected handleData(kind: string): HandleData {
    return {
      kind, typecode: this.#typecode, length: this.#view.length, shm: this.shm[toHandle](),
      lock: this.#lock ? this.#lock[toHandle]() : null,
    };
  }

  abstract [toHandle](): HandleData;
}

let revived: { shm: SharedMemory; lock: AnyLock | undefined; length: number } | undefined;

export class Value<T = number> extends SharedData {
  constructor(typecode: string, initial?: T, options?: { lock?: LockOption }) {
    const opts = checkOptions(options, 'Value');
    const from = revived;
    revived = undefined;
    super(typecode, 1, from?.shm, from ? from.lock : lockFrom(opts.lock));
    if (!from && initial !== undefined) this.view[0] = toStored(this.info, initial, 'initial') as never;
  }

  get value(): T {
    return this.locked(() => fromStored(this.info, this.view[0]!)) as T;
  }

  set value(v: T) {
    const stored = toStored(this.info, v, 'value');
    this.locked(() => {
      this.view[0] = stored as never;
    });
  }

  [toHandle](): HandleData {
    return this.handleData('Value');
  }

  get [Symbol.toStringTag](): string {
    return 'Value';
  }
}

/** A Value without a lock (sharedctypes.RawValue). */
export function RawValue<T = number>(typecode: string, initial?: T): Value<T> {
  return new Value<T>(typecode, initial, { lock: false });
}

export class SharedArray extends SharedData {
  constructor(typecode: string, sizeOrItems: number | Iterable<number | bigint | string>, options?: { lock?: LockOption }) {
    const opts = checkOptions(options, 'SharedArray');
    const from = revived;
    revived = undefined;
    typeInfo(typecode); // an unknown typecode fails before anything is allocated
    let items: unknown[] | undefined;
    let length: number;
    if (from) {
      length = from.length;
    } else if (typeof sizeOrItems === 'number') {
      if (!Number.isInteger(sizeOrItems)) throw new TypeError(`size must be an integer, got ${sizeOrItems}`);
      if (sizeOrItems < 0) throw new RangeError(`size must not be negative, got ${sizeOrItems}`);
      length = sizeOrItems;
    } else if (typeof sizeOrItems === 'string' || (sizeOrItems !== null && typeof sizeOrItems === 'object' && Symbol.iterator in sizeOrItems)) {
      items = [...sizeOrItems];
      length = items.length;
    } else {
      throw new TypeError(`sizeOrItems must be a length or an iterable of values, got ${describe(sizeOrItems)}`);
    }
    super(typecode, length, from?.shm, from ? from.lock : lockFrom(opts.lock));
    items?.forEach((v, i) => {
      this.view[i] = toStored(this.info, v, `item ${i}`) as never;
    });
  }

  get length(): number {
    return this.view.length;
  }

  #index(i: unknown): number {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`index must be an integer, got ${describe(i)}`);
    const n = this.view.length;
    const j = i < 0 ? n + i : i; // negative indexes count from the end, as in Python
    if (j < 0 || j >= n) throw new RangeError(`index ${i} is out of range for a SharedArray of length ${n}`);
    return j;
  }

  get(i: number): number | bigint | string {
    const j = this.#index(i);
    return this.locked(() => fromStored(this.info, this.view[j]!));
  }

  set(i: number, v: number | bigint | string): void {
    const j = this.#index(i);
    const stored = toStored(this.info, v, 'value');
    this.locked(() => {
      this.view[j] = stored as never;
    });
  }

  /** A plain copy, taken under the lock. */
  toArray(): Array<number | bigint | string> {
    return this.locked(() => Array.from(this.view as ArrayLike<number | bigint>, (x) => fromStored(this.info, x)));
  }

  [toHandle](): HandleData {
    return this.handleData('SharedArray');
  }

  get [Symbol.toStringTag](): string {
    return 'SharedArray';
  }
}

/** A SharedArray without a lock (sharedctypes.RawArray). */
export function RawArray(typecode: string, sizeOrItems: number | Iterable<number | bigint | string>): SharedArray {
  return new SharedArray(typecode, sizeOrItems, { lock: false });
}

function revive<T>(data: HandleData, make: () => T): T {
  revived = {
    shm: reopenHandle(data.shm as HandleData) as SharedMemory,
    lock: data.lock ? (reopenHandle(data.lock as HandleData) as AnyLock) : undefined,
    length: Number(data.length),
  };
  return make();
}

registerHandleKind('Value', (data) => revive(data, () => new Value(String(data.typecode))));
registerHandleKind('SharedArray', (data) => revive(data, () => new SharedArray(String(data.typecode), 0)));
