// Queue, JoinableQueue and SimpleQueue: Python's multiprocessing queues over
// one shared-memory ring (ring.ts, native/core/ring.h). A put is one encoding
// (encoding.ts: numbers, strings and Buffers as they are, small plain data as
// JSON, anything else by structured clone) and one addon call that writes the
// record into the ring; a get one addon call that makes the JS value straight
// from the ring, and one decoding. Items that do not fit the ring travel
// through a side segment, so any size works and a bounded queue never
// deadlocks on a large item.
//
// close() is Python's: this handle puts and gets no more (other processes'
// handles are unaffected). shutdown() is Python 3.13's queue.Queue.shutdown,
// for every process: puts fail with ShutDown, gets drain what is left and
// then fail with ShutDown, `for await` ends.
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { addon } from '../binding/addon';
import { ShutDown, TimeoutError, closedError, corruptError } from '../base/errors';
import { Entries } from '../shm/entries';
import { Kind, QUEUE, QUEUE_CONSUMERS_OVERFLOWED, RING_OFFSET, STATE } from '../binding/layout';
import {
  asyncOptions,
  deadlineAfter,
  describe,
  remaining,
  syncTimeout,
  waitArguments,
  type AsyncOptions,
  type SyncOptions,
  type SyncWaitOptions,
  type WaitOptions,
} from '../base/validate';
import { drive, driveSync, sleep, type WaitSteps } from '../wait/driver';
import { SharedState, handleOf, remember, reviveShared } from '../shm/shared_state';
import { Ring, queueBytes, type GetOptions } from './ring';

export interface QueueOptions {
  /** Bytes of shared memory for items in flight (default 256 KiB); larger items go through a side segment. */
  capacityBytes?: number;
}

const DEFAULT_CAPACITY = 256 * 1024;
const MAX_CAPACITY = 2 ** 31;
const MIN_STATE_WORDS = RING_OFFSET / 4 - STATE + 16; // the ring's header must be there
const LIVENESS_SLICE_MS = 20;

const revived = new Handoff<SharedState>();
const NO_OPTIONS: GetOptions = Object.freeze({});

function closedHandle(): Error {
  return closedError('this queue was closed in this process (close() ends a handle; shutdown() ends the queue for everyone)');
}

export class Queue<T = unknown> implements Shareable, AsyncIterable<T> {
  readonly #state: SharedState;
  readonly #ring: Ring;
  #parts: { readonly ring: Ring; readonly state: SharedState } | undefined;
  #closed = false;

  /** maxsize: most items at once (0: no item limit). */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    const revival = revived.take();
    if (revival) {
      this.#state = revival;
    } else {
      if (typeof maxsize !== 'number' || !Number.isInteger(maxsize))
        throw new TypeError(`maxsize must be an integer, got ${describe(maxsize)}`);
      if (maxsize < 0 || maxsize > 0x7fffffff) throw new RangeError(`maxsize must be from 0 to ${0x7fffffff}, got ${maxsize}`);
      if (typeof options !== 'object' || options === null) throw new TypeError(`Queue options must be an object, got ${describe(options)}`);
      for (const key of Object.keys(options)) {
        if (key !== 'capacityBytes') throw new TypeError(`unknown Queue option ${JSON.stringify(key)}`);
      }
      const capacity = options.capacityBytes ?? DEFAULT_CAPACITY;
      if (typeof capacity !== 'number' || !Number.isInteger(capacity))
        throw new TypeError(`options.capacityBytes must be an integer, got ${describe(capacity)}`);
      if (capacity < 64 || capacity > MAX_CAPACITY)
        throw new RangeError(`options.capacityBytes must be from 64 to ${MAX_CAPACITY}, got ${capacity}`);
      const words = queueBytes(capacity) / 4 - STATE;
      this.#state = SharedState.createOrOpen(Kind.Queue, words, undefined, (s) => Ring.init(s, capacity, maxsize));
    }
    this.#ring = new Ring(this.#state, `queue ${this.#state.name}`);
    remember(this.#state, this);
  }

  #open(): Ring {
    if (this.#closed) throw closedHandle();
    return this.#ring;
  }

  /** Resolves once the item is in (rejects Full after options.timeout, ShutDown, or an AbortError). */
  async put(item: T, options?: AsyncOptions | number): Promise<void> {
    const { timeout, signal } = asyncOptions(options, 'put');
    await this.#open().put(item, false, timeout, signal);
  }

  /** Blocks the thread until the item is in; throws Full on timeout or with `block: false`. */
  putSync(item: T, options?: SyncOptions | number): void {
    const timeout = syncTimeout(options, 'putSync');
    this.#open().putSync(item, false, timeout);
  }

  putNowait(item: T): void {
    this.putSync(item, { block: false });
  }

  /** @internal what a get passes the ring (JoinableQueue: the consumer's count). */
  protected _getOptions(): GetOptions {
    return NO_OPTIONS;
  }

  /** Resolves with the oldest item (rejects Empty after options.timeout; ShutDown once shut down and drained). */
  async get(options?: AsyncOptions | number): Promise<T> {
    const { timeout, signal } = asyncOptions(options, 'get');
    return (await this.#open().get(timeout, signal, this._getOptions())) as T;
  }

  /** Blocks the thread for the oldest item; throws Empty on timeout or with `block: false`. */
  getSync(options?: SyncOptions | number): T {
    const timeout = syncTimeout(options, 'getSync');
    return this.#open().getSync(timeout, this._getOptions()) as T;
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

  /** Python's close(): this process puts (and gets) no more through this queue; other processes go on. */
  close(): void {
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * For every process: no more puts (they fail with ShutDown); gets drain
   * what is left, then fail with ShutDown, and async iteration ends. With
   * `immediate`, what is left is dropped at once (Python 3.13); if the
   * queue's lock stays held for a second (a stopped process holds it), the
   * queue is shut down but not emptied, and this throws TimeoutError.
   */
  shutdown(options?: { immediate?: boolean }): void {
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new TypeError(`shutdown() options must be an object, got ${describe(options)}`);
    const immediate = options?.immediate ?? false;
    if (typeof immediate !== 'boolean') throw new TypeError(`options.immediate must be a boolean, got ${describe(immediate)}`);
    const dropped = this.#open().shutdown(immediate);
    this._shutDown();
    if (!dropped) {
      throw new TimeoutError(
        'the queue is shut down, but what was left in it could not be dropped: its internal lock ' +
          'stayed held for a second (by a stopped process?); gets will drain it instead',
      );
    }
  }

  /** @internal JoinableQueue wakes its joiners. */
  protected _shutDown(): void {}

  get isShutDown(): boolean {
    return this.#ring.isShutDown;
  }

  /** Ends once the queue is shut down and drained, or this handle is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#closed) return;
      let item: T;
      try {
        item = await this.get();
      } catch (e) {
        if (e instanceof ShutDown) return;
        throw e;
      }
      yield item;
    }
  }

  /** @internal for Connection (pipe.ts) and JoinableQueue */
  static _parts(q: Queue): { readonly ring: Ring; readonly state: SharedState } {
    return (q.#parts ??= Object.freeze({ ring: q.#ring, state: q.#state }));
  }

  [toHandle](): HandleData {
    return { kind: this instanceof JoinableQueue ? 'JoinableQueue' : 'Queue', ...handleOf(this.#state) };
  }

  get [Symbol.toStringTag](): string {
    return this.constructor.name;
  }

  [inspect.custom](): string {
    const max = this.#ring.maxsize;
    const flags = [this.#ring.isShutDown ? 'shut down' : '', this.#closed ? 'closed here' : ''].filter(Boolean);
    return (
      `${this.constructor.name} { ${this.qsize()} item${this.qsize() === 1 ? '' : 's'}${max ? ` of at most ${max}` : ''}` +
      `${flags.length ? `, ${flags.join(', ')}` : ''} }`
    );
  }
}

/**
 * A Queue whose consumers report each item done (taskDone), so that join()
 * can wait for all. What join() waits for is counted from what is really
 * there: the items in the ring, plus the items each consumer thread took
 * and has not marked done (entries.ts; counted under the ring's lock, so an
 * item is always counted once). A producer killed inside put() adds
 * nothing; a consumer that dies drops what it held from the count.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  #consumers: Entries | undefined;
  #mine = -1; // this thread's consumer entry
  #options: GetOptions | undefined; // what gets pass the ring: the counter of that entry

  #table(): Entries {
    if (!this.#consumers) {
      const { state } = Queue._parts(this);
      this.#consumers = new Entries(state.i32, state.at(QUEUE.consumers), QUEUE.consumerEntries, QUEUE.consumerWords);
    }
    return this.#consumers;
  }

  // The word this thread's count lives in (an entry of its own, or the
  // shared overflow word when every entry is taken).
  #countWord(): number {
    const { state } = Queue._parts(this);
    const table = this.#table();
    let i = table.find(undefined, this.#mine);
    if (i < 0) {
      i = table.claim();
      if (i < 0) {
        table.purge((j, id) => this.#dropDead(j, id));
        i = table.claim();
      }
    }
    if (i < 0) {
      Atomics.or(state.i32, state.at(QUEUE.flags), QUEUE_CONSUMERS_OVERFLOWED);
      return state.at(QUEUE.overflow);
    }
    this.#mine = i;
    return table.word(i, 2);
  }

  protected override _getOptions(): GetOptions {
    const word = this.#countWord();
    if (this.#options?.counter !== word * 4) this.#options = Object.freeze({ counter: word * 4, undecodable: () => this.#wakeJoiners() });
    return this.#options;
  }

  // A dead consumer's entry: its count goes (it will never call taskDone),
  // then the entry (entries.ts: reclaim, so that two recoverers cannot zero
  // the count of a consumer that claimed the entry in between).
  #dropDead(i: number, id: bigint): void {
    const { state } = Queue._parts(this);
    const table = this.#table();
    table.reclaim(i, id, () => Atomics.store(state.i32, table.word(i, 2), 0));
  }

  /** Marks one item taken from the queue as processed. */
  taskDone(): void {
    const { state } = Queue._parts(this);
    const i32 = state.i32;
    const table = this.#table();
    const take = (word: number): boolean => {
      for (;;) {
        const n = Atomics.load(i32, word);
        if (n <= 0) return false;
        if (Atomics.compareExchange(i32, word, n, n - 1) === n) return true;
      }
    };
    // Our own count first; then (an item got by another thread) any live
    // consumer's; then the overflow word.
    const mine = table.find(undefined, this.#mine);
    let done = mine >= 0 && take(table.word(mine, 2));
    for (let i = 0; !done && i < table.count; i++) {
      if (i !== mine && Atomics.load(i32, table.word(i, 2)) > 0 && table.live(i)) done = take(table.word(i, 2));
    }
    if (!done) done = take(state.at(QUEUE.overflow));
    if (!done) throw new Error('taskDone() called more times than items were taken from the queue');
    this.#wakeJoiners();
  }

  #wakeJoiners(): void {
    const { state } = Queue._parts(this);
    Atomics.add(state.i32, state.at(QUEUE.done), 1);
    if (Atomics.load(state.i32, state.at(QUEUE.doneSleepers)) !== 0) addon().wake(state.segment, state.offset(QUEUE.done));
  }

  protected override _shutDown(): void {
    this.#wakeJoiners();
  }

  /** Items put and not yet marked done: in the queue, or taken by a consumer. */
  unfinished(): number {
    const { state, ring } = Queue._parts(this);
    // The ring's count first: a get moves an item from it to a consumer's
    // count (that one first), so reading in this order never misses one.
    let n = ring.items;
    const table = this.#table();
    for (let i = 0; i < table.count; i++) n += Math.max(0, Atomics.load(state.i32, table.word(i, 2)));
    return n + Math.max(0, Atomics.load(state.i32, state.at(QUEUE.overflow)));
  }

  // Between waits: forget consumers that died, and repair the ring if a
  // producer died holding its lock (its half-made put counted an item).
  #recover(): void {
    const { ring } = Queue._parts(this);
    this.#table().purge((i, id) => this.#dropDead(i, id));
    ring.recover();
  }

  /**
   * Resolves true once every item put has been taken and marked done (or its
   * taker died); false if the timeout (ms, or `{ timeout, signal }`) passed
   * first. Python's join() has no timeout: without one this waits as it does.
   */
  async join(timeout?: number | WaitOptions, options?: WaitOptions): Promise<boolean> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'JoinableQueue.join');
    return drive(Queue._parts(this).state.segment, this.#joinSteps(deadlineAfter(ms)), signal);
  }

  /** join() that blocks the thread. */
  joinSync(timeout?: number | SyncWaitOptions): boolean {
    const { timeout: ms } = waitArguments(timeout, undefined, 'JoinableQueue.joinSync', false);
    const { state } = Queue._parts(this);
    return driveSync(state.segment, this.#joinSteps(deadlineAfter(ms)), state.i32);
  }

  // Until nothing is unfinished (true), or the deadline (false); consumers
  // that died holding items are looked for every LIVENESS_SLICE_MS.
  *#joinSteps(deadline: number): WaitSteps<boolean> {
    const { state } = Queue._parts(this);
    for (;;) {
      const seen = Atomics.load(state.i32, state.at(QUEUE.done));
      if (this.unfinished() === 0) return true;
      const left = remaining(deadline);
      if (left === 0) return false;
      const r = yield sleep(state.offset(QUEUE.done), seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
      if (r === 'timed-out') this.#recover();
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

  put(item: T, options?: AsyncOptions | number): Promise<void> {
    return this.#queue.put(item, options);
  }

  putSync(item: T, options?: SyncOptions | number): void {
    this.#queue.putSync(item, options);
  }

  get(options?: AsyncOptions | number): Promise<T> {
    return this.#queue.get(options);
  }

  getSync(options?: SyncOptions | number): T {
    return this.#queue.getSync(options);
  }

  empty(): boolean {
    return this.#queue.empty();
  }

  /** This process uses it no more (Python's close()). */
  close(): void {
    this.#queue.close();
  }

  /** For every process: see Queue.shutdown(). */
  shutdown(options?: { immediate?: boolean }): void {
    this.#queue.shutdown(options);
  }

  [toHandle](): HandleData {
    return { kind: 'SimpleQueue', queue: this.#queue[toHandle]() };
  }

  get [Symbol.toStringTag](): string {
    return 'SimpleQueue';
  }

  [inspect.custom](): string {
    return `SimpleQueue { ${this.#queue.empty() ? 'empty' : 'not empty'} }`;
  }
}

function reopenQueue<Q extends Queue>(Type: new () => Q, data: HandleData): Q {
  return reviveShared(
    data,
    Kind.Queue,
    (state) => {
      // The ring must lie inside the segment before anything reads it.
      if (state.i32.length * 4 < RING_OFFSET + addon().layout.ring.bytes)
        throw corruptError(`${state.describe()} is too small to hold a queue`);
      return revived.give(state, () => new Type());
    },
    MIN_STATE_WORDS,
  );
}

registerHandleKind('Queue', (data) => reopenQueue(Queue, data));
registerHandleKind('JoinableQueue', (data) => reopenQueue(JoinableQueue, data));
registerHandleKind('SimpleQueue', (data) => new SimpleQueue(undefined, reopenQueue(Queue, data.queue as HandleData)));
