// Queue, JoinableQueue and SimpleQueue: Python's multiprocessing queues over
// one shared-memory ring (ring.ts, native/core/ring.h). A put is one encoding
// (encoding.ts: numbers, strings and Buffers as they are, small plain data as
// JSON, anything else by structured clone) and one addon call that writes the
// record into the ring; a get one addon call that makes the JS value straight
// from the ring, and one decoding. Items that do not fit the ring travel
// through a side segment, so any size works and a bounded queue never
// deadlocks on a large item.
import { describe } from '../names';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../handles';
import { addon } from '../addon';
import { wait } from '../wait';
import { Kind } from '../sync/layout';
import { asyncOptions, syncTimeout, type AsyncOptions, type SyncOptions } from '../sync/options';
import { SharedState, remember, reuseOrOpen } from '../sync/shared_state';
import { setRingAccessor } from './pipe';
import { Ring, queueBytes } from './ring';

export interface QueueOptions {
  /** Bytes of shared memory for items in flight (default 256 KiB); larger items go through a side segment. */
  capacityBytes?: number;
}

const DEFAULT_CAPACITY = 256 * 1024;
const UNFINISHED = 4; // word of JoinableQueue's unfinished-task count (a wait cell)

let revived: SharedState | undefined;

export class Queue<T = unknown> implements Shareable, AsyncIterable<T> {
  readonly #state: SharedState;
  readonly #ring: Ring;

  /** maxsize: most items at once (0: no item limit). */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    if (revived) {
      this.#state = revived;
      revived = undefined;
    } else {
      if (typeof maxsize !== 'number' || !Number.isInteger(maxsize)) throw new TypeError(`maxsize must be an integer, got ${describe(maxsize)}`);
      if (maxsize < 0 || maxsize > 0x7fffffff) throw new RangeError(`maxsize must be from 0 to ${0x7fffffff}, got ${maxsize}`);
      if (typeof options !== 'object' || options === null) throw new TypeError(`Queue options must be an object, got ${describe(options)}`);
      for (const key of Object.keys(options)) {
        if (key !== 'capacityBytes') throw new TypeError(`unknown Queue option ${JSON.stringify(key)}`);
      }
      const capacity = options.capacityBytes ?? DEFAULT_CAPACITY;
      if (typeof capacity !== 'number' || !Number.isInteger(capacity)) throw new TypeError(`options.capacityBytes must be an integer, got ${describe(capacity)}`);
      if (capacity < 64 || capacity > 2 ** 31) throw new RangeError(`options.capacityBytes must be from 64 to ${2 ** 31}, got ${capacity}`);
      const words = queueBytes(capacity) / 4 - 4;
      this.#state = SharedState.createOrOpen(Kind.Queue, words, undefined, (s) => Ring.init(s, capacity, maxsize));
    }
    this.#ring = new Ring(this.#state);
    remember(this.#state, this);
  }

  /** Resolves once the item is in (rejects Full after options.timeout, or an AbortError). */
  async put(item: T, options?: AsyncOptions): Promise<void> {
    const { timeout, signal } = asyncOptions(options, 'put');
    await this.#ring.put(item, false, timeout, signal, 'the queue');
  }

  /** Blocks the thread until the item is in; throws Full on timeout or with `block: false`. */
  putSync(item: T, options?: SyncOptions): void {
    const timeout = syncTimeout(options, 'putSync');
    this.#ring.putSync(item, false, timeout, 'the queue');
  }

  putNowait(item: T): void {
    this.putSync(item, { block: false });
  }

  /** Resolves with the oldest item (rejects Empty after options.timeout; an error with code ERR_MP_CLOSED once closed and drained). */
  async get(options?: AsyncOptions): Promise<T> {
    const { timeout, signal } = asyncOptions(options, 'get');
    return await this.#ring.get(false, timeout, signal, 'the queue') as T;
  }

  /** Blocks the thread for the oldest item; throws Empty on timeout or with `block: false`. */
  getSync(options?: SyncOptions): T {
    const timeout = syncTimeout(options, 'getSync');
    return this.#ring.getSync(false, timeout, 'the queue') as T;
  }

  getNowait(): T {
    return this.getSync({ block: false });
  }

  /** Items in the queue now (exact at the instant it is read). */
  qsize(): number {
    return this.#ring.items;
  }

  empty(): boolean {
    return this.#ring.items === 0;
  }

  full(): boolean {
    const max = this.#ring.maxsize;
    return max > 0 && this.#ring.items >= max;
  }

  /**
   * No more items can be put, by any process; gets drain what is left, then
   * fail with code ERR_MP_CLOSED, and async iteration ends.
   */
  close(): void {
    this.#ring.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_MP_CLOSED') return;
        throw e;
      }
      yield item;
    }
  }

  /** @internal for Connection (pipe.ts) */
  static _ring(q: Queue): Ring {
    return q.#ring;
  }

  /** @internal for JoinableQueue */
  protected get _state(): SharedState {
    return this.#state;
  }

  [toHandle](): HandleData {
    return { kind: this.constructor === JoinableQueue ? 'JoinableQueue' : 'Queue', name: this.#state.name };
  }

  get [Symbol.toStringTag](): string {
    return this.constructor.name;
  }
}

/** A Queue whose consumers report each item done (taskDone), so that join() can wait for all. */
export class JoinableQueue<T = unknown> extends Queue<T> {
  #add(n: number): number {
    return Atomics.add(this._state.i32, this._state.at(UNFINISHED), n) + n;
  }

  override async put(item: T, options?: AsyncOptions): Promise<void> {
    this.#add(1);
    try {
      await super.put(item, options);
    } catch (e) {
      this.#unfinish();
      throw e;
    }
  }

  override putSync(item: T, options?: SyncOptions): void {
    this.#add(1);
    try {
      super.putSync(item, options);
    } catch (e) {
      this.#unfinish();
      throw e;
    }
  }

  /** Marks one item taken from the queue as processed. */
  taskDone(): void {
    const left = this.#add(-1);
    if (left < 0) {
      this.#add(1);
      throw new Error('taskDone() called more times than there were items put');
    }
    if (left === 0) this.#wakeJoiners();
  }

  #unfinish(): void {
    if (this.#add(-1) === 0) this.#wakeJoiners();
  }

  #wakeJoiners(): void {
    if (Atomics.load(this._state.i32, this._state.at(UNFINISHED) + 1) !== 0) {
      addon().wake(this._state.segment, this._state.offset(UNFINISHED));
    }
  }

  /** Resolves once every item put has been marked done. */
  async join(): Promise<void> {
    for (;;) {
      const left = Atomics.load(this._state.i32, this._state.at(UNFINISHED));
      if (left === 0) return;
      await wait(this._state.segment, this._state.offset(UNFINISHED), left);
    }
  }

  /** join() that blocks the thread. */
  joinSync(): void {
    const native = addon();
    for (;;) {
      const left = Atomics.load(this._state.i32, this._state.at(UNFINISHED));
      if (left === 0) return;
      native.waitSync(this._state.segment, this._state.offset(UNFINISHED), left);
    }
  }
}

/** Python's SimpleQueue: an unbounded queue with the essential methods. */
export class SimpleQueue<T = unknown> implements Shareable {
  readonly #queue: Queue<T>;

  constructor(options?: QueueOptions, queue?: Queue<T>) {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError(`SimpleQueue options must be an object, got ${describe(options)}`);
    }
    this.#queue = queue ?? new Queue<T>(0, options);
  }

  put(item: T, options?: AsyncOptions): Promise<void> {
    return this.#queue.put(item, options);
  }

  putSync(item: T, options?: SyncOptions): void {
    this.#queue.putSync(item, options);
  }

  get(options?: AsyncOptions): Promise<T> {
    return this.#queue.get(options);
  }

  getSync(options?: SyncOptions): T {
    return this.#queue.getSync(options);
  }

  empty(): boolean {
    return this.#queue.empty();
  }

  close(): void {
    this.#queue.close();
  }

  [toHandle](): HandleData {
    return { kind: 'SimpleQueue', queue: this.#queue[toHandle]() };
  }

  get [Symbol.toStringTag](): string {
    return 'SimpleQueue';
  }
}

function reopenQueue<Q extends Queue>(Type: new () => Q, data: HandleData): Q {
  return reuseOrOpen(String(data.name), () => {
    revived = SharedState.open(String(data.name), Kind.Queue);
    return new Type();
  });
}

setRingAccessor((q) => Queue._ring(q));

registerHandleKind('Queue', (data) => reopenQueue(Queue, data));
registerHandleKind('JoinableQueue', (data) => reopenQueue(JoinableQueue, data));
registerHandleKind('SimpleQueue', (data) => new SimpleQueue(undefined, reopenQueue(Queue, data.queue as HandleData)));
