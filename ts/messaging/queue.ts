// Queue (JoinableQueue and SimpleQueue are built on it: joinable_queue.ts,
// simple_queue.ts): Python's multiprocessing queues over
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
import { Kind, RING_OFFSET, STATE } from '../binding/layout';
import { asyncOptions, describe, syncTimeout, type AsyncOptions, type SyncOptions } from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';
import { Ring, type GetOptions } from './ring';
import { queueBytes } from './ring_codes';

export interface QueueOptions {
  /** Bytes of shared memory for items in flight (default 256 KiB); larger items go through a side segment. */
  capacityBytes?: number;
}

const DEFAULT_CAPACITY = 256 * 1024;
const MAX_CAPACITY = 2 ** 31;
const MIN_STATE_WORDS = RING_OFFSET / 4 - STATE + 16; // the ring's header must be there

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

  /**
   * @internal Resolves once the queue holds an item or is shut down (true),
   * or after timeoutMs (false), taking nothing: for a reader that takes and handles items in one synchronous
   * step (an item taken by an awaited get is handled turns later).
   */
  async _whenReadable(signal?: AbortSignal, timeoutMs = Infinity): Promise<boolean> {
    return this.#open().poll(timeoutMs, signal);
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

  /** @internal the kind its handles carry (JoinableQueue's own). */
  protected get _kind(): string {
    return 'Queue';
  }

  /** @internal for Connection (pipe.ts) and JoinableQueue */
  static _parts(q: Queue): { readonly ring: Ring; readonly state: SharedState } {
    return (q.#parts ??= Object.freeze({ ring: q.#ring, state: q.#state }));
  }

  [toHandle](): HandleData {
    return { kind: this._kind, ...handleOf(this.#state) };
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

/** @internal how a queue's handle is reopened (JoinableQueue and SimpleQueue too). */
export function reopenQueue<Q extends Queue>(Type: new () => Q, data: HandleData): Q {
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
