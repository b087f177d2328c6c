// A ring of native/core/ring.h inside a queue's segment, seen from JS: items
// in and out (encoded by encoding.ts, with large ones through a side
// segment), blocking sync forms in the addon, async forms that spin briefly
// on the event loop and then wait on the native waiter threads.
//
// The segment (ts/binding/layout.ts): the object header and holder table
// (bytes 0..1023), the queue's state (QUEUE: the done-count cell, a
// JoinableQueue's consumers, a pipe's senders), then the ring at RING_OFFSET:
// RingHeader (64 bytes), then its data.
//
// Waiting for the ring's internal lock is bounded like any other wait: an
// async operation never blocks the event loop for it (a one-try call reports
// "busy" and the caller awaits the lock word), a sync one waits at most its
// timeout, and a Nowait one at most NOWAIT_LOCK_MS -- so a process that is
// stopped while it holds the lock (SIGSTOP, a debugger) delays the others by
// their timeouts, never more.
import { Empty, Full, ShutDown } from '../base/errors';
import { addon } from '../binding/addon';
import type { RingHandle } from '../binding/native';
import { RING_OFFSET } from '../binding/layout';
import type { SharedState } from '../shm/shared_state';
import { decode, decodeBytes, discard, encode, toSide, unlinkSide, type Encoded, type RecordValue } from './encoding';
import { RETRY_SLICE_MS, ringCodes, type RingCodes } from './ring_codes';
import { RingWaiter } from './ring_wait';

// Room a side record takes: its header, "<tag>:<length>:<name>" and a NUL,
// padded (native/core/ring.h), with room to spare.
const SIDE_RECORD_ROOM = 128n;
/** How long a Nowait operation may wait for the ring's internal lock. */
export const NOWAIT_LOCK_MS = 20;
// How long an async operation's try may spin for the lock before it reports
// "busy" and waits without blocking the loop: critical sections are a copy.
const ASYNC_LOCK_MS = 0.005;

/** Called while a wait goes on with nothing arriving, once per RETRY_SLICE_MS (a pipe checks its senders there). */
let C: RingCodes | undefined; // ring_codes.ts, once the first Ring is made

export type OnIdle = () => void;

export interface GetOptions {
  /** Bytes as they were sent (Connection.recvBytes). */
  raw?: boolean;
  /** Byte offset of a u32 this get increments under the ring's lock (a JoinableQueue consumer's count). */
  counter?: number;
  /** Called after an item was taken but could not be decoded, once `counter` was given back. */
  undecodable?: () => void;
  onIdle?: OnIdle | undefined;
}

export class Ring {
  readonly #state: SharedState;
  readonly #handle: RingHandle;
  readonly #what: string;
  // Where the addon leaves each get's [status, tag]: no result object per call.
  readonly #result = new Int32Array(new ArrayBuffer(8));
  readonly #waiter: RingWaiter;
  #positions: BigUint64Array | undefined; // the ring's head and tail

  /** `what` names the queue in errors. */
  constructor(state: SharedState, what: string) {
    this.#state = state;
    this.#what = what;
    C ??= ringCodes();
    this.#handle = addon().ringOpen(state.segment, RING_OFFSET, this.#result);
    this.#waiter = new RingWaiter(state, this.#handle);
  }

  static init(state: SharedState, capacity: number, maxsize: number): void {
    addon().ringInit(state.segment, RING_OFFSET, capacity, maxsize);
  }

  get items(): number {
    return Atomics.load(this.#state.i32, C!.items);
  }

  get maxsize(): number {
    return this.#state.i32[C!.maxsize];
  }

  get isShutDown(): boolean {
    return Atomics.load(this.#state.i32, C!.shut) !== 0;
  }

  #check(r: number): void {
    if (r === C!.status.shutDown) throw new ShutDown(`${this.#what} is shut down`);
    if (r !== C!.status.full && r !== C!.status.timedOut && r !== C!.status.empty && r !== C!.status.busy)
      throw new Error(`internal error: ring status ${r}`);
  }

  /** Puts an item (raw: bytes as they are); timeoutMs 0: do not wait. Throws Full. */
  putSync(item: unknown, raw: boolean, timeoutMs: number): void {
    const native = addon();
    const timeout = timeoutMs === Infinity ? undefined : timeoutMs;
    const record = encode(item, raw);
    try {
      const r =
        timeout === 0
          ? native.ringPut(this.#handle, record.tag, record.value, 0, NOWAIT_LOCK_MS)
          : native.ringPut(this.#handle, record.tag, record.value, timeout);
      if (r === C!.status.ok) return;
      if (r === C!.status.tooBig) return this.#putSideSync(record, timeoutMs);
      this.#check(r);
      throw new Full(); // no room (or no lock) within the time allowed
    } catch (e) {
      discard(record);
      throw e;
    }
  }

  async put(item: unknown, raw: boolean, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const record = encode(item, raw);
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    try {
      for (;;) {
        const seen = Atomics.load(this.#state.i32, C!.freed / 4);
        const r = native.ringPut(this.#handle, record.tag, record.value, 0, ASYNC_LOCK_MS);
        if (r === C!.status.ok) return;
        if (r === C!.status.tooBig) return await this.#putSide(record, deadline, signal);
        this.#check(r);
        const left = deadline - performance.now();
        if (left <= 0) throw new Full();
        if (r === C!.status.busy) await this.#waiter.lockMoved(left, signal);
        else await this.#waiter.moved(C!.freed, seen, left, signal);
      }
    } catch (e) {
      discard(record);
      throw e;
    }
  }

  // An item too big for the ring goes through a side segment, which only
  // its record names. It is made only once the ring looks to have room for
  // that record, and unlinked again if the put still fails: a producer
  // killed while it waits for room leaves nothing behind (only one killed in
  // the few microseconds between making it and the put can).
  #roomForSideRecord(): boolean {
    const i32 = this.#state.i32;
    const maxsize = i32[C!.maxsize];
    if (maxsize !== 0 && Atomics.load(i32, C!.items) >= maxsize) return false;
    const u64 = (this.#positions ??= new BigUint64Array(i32.buffer, i32.byteOffset + C!.head, 2));
    const used = Atomics.load(u64, 1) - Atomics.load(u64, 0); // tail - head
    return used === 0n || BigInt(i32[C!.capacity]) - used >= SIDE_RECORD_ROOM;
  }

  #putSideSync(record: Encoded, timeoutMs: number): void {
    const native = addon();
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.#state.i32, C!.freed / 4);
      if (this.#roomForSideRecord()) {
        const side = toSide(record);
        const r = native.ringPut(this.#handle, side.tag, side.value, 0, NOWAIT_LOCK_MS);
        if (r === C!.status.ok) return;
        unlinkSide(side);
        this.#check(r);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Full();
      native.waitSync(this.#state.segment, C!.freed, seen, Math.min(left, RETRY_SLICE_MS));
    }
  }

  async #putSide(record: Encoded, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, C!.freed / 4);
      let r = C!.status.full;
      if (this.#roomForSideRecord()) {
        const side = toSide(record);
        r = native.ringPut(this.#handle, side.tag, side.value, 0, ASYNC_LOCK_MS);
        if (r === C!.status.ok) return;
        unlinkSide(side);
        this.#check(r);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Full();
      if (r === C!.status.busy) await this.#waiter.lockMoved(left, signal);
      else await this.#waiter.moved(C!.freed, seen, left, signal);
    }
  }

  /**
   * Takes the oldest item; timeoutMs 0: do not wait. Throws Empty, or
   * ShutDown once shut down and drained. With onIdle, waits in slices and
   * calls it between them.
   */
  getSync(timeoutMs: number, options: GetOptions = {}): unknown {
    const native = addon();
    const { raw = false, counter, onIdle } = options;
    if (!onIdle || timeoutMs === 0) {
      // Only the arguments this call needs: each costs the addon a type check.
      const value =
        timeoutMs === 0 || counter !== undefined
          ? native.ringGet(this.#handle, timeoutMs === Infinity ? undefined : timeoutMs, NOWAIT_LOCK_MS, counter)
          : native.ringGet(this.#handle, timeoutMs === Infinity ? undefined : timeoutMs);
      return this.#took(value, raw, options);
    }
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      const value = native.ringGet(this.#handle, Math.max(0, Math.min(left, RETRY_SLICE_MS)), NOWAIT_LOCK_MS, counter);
      const r = this.#result[0];
      if ((r !== C!.status.empty && r !== C!.status.timedOut && r !== C!.status.busy) || left <= RETRY_SLICE_MS)
        return this.#took(value, raw, options);
      onIdle();
    }
  }

  #took(value: Buffer | string | number | undefined, raw: boolean, options: GetOptions): unknown {
    const r = this.#result[0];
    if (r === C!.status.ok) return this.#item(this.#result[1], value!, raw, options);
    this.#check(r);
    throw new Empty();
  }

  async get(timeoutMs: number, signal: AbortSignal | undefined, options: GetOptions = {}): Promise<unknown> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    const { raw = false, counter, onIdle } = options;
    for (;;) {
      const seen = Atomics.load(this.#state.i32, C!.written / 4);
      const value = native.ringGet(this.#handle, 0, ASYNC_LOCK_MS, counter);
      const r = this.#result[0];
      if (r === C!.status.ok) return this.#item(this.#result[1], value!, raw, options);
      this.#check(r);
      const left = deadline - performance.now();
      if (left <= 0) throw new Empty();
      if (r === C!.status.busy) await this.#waiter.lockMoved(left, signal);
      else if (!(await this.#waiter.moved(C!.written, seen, left, signal))) onIdle?.();
    }
  }

  // An item that cannot be decoded (its side segment is gone, a handle in
  // it names an object that no longer exists...) is gone from the ring: the
  // get throws, and a JoinableQueue consumer's count gives it back, for no
  // one will mark it done (Python's join() would wait for it for ever).
  #item(tag: number, value: RecordValue, raw: boolean, options: GetOptions): unknown {
    try {
      return raw ? decodeBytes(tag, value, this.#what) : decode(tag, value, this.#what);
    } catch (e) {
      if (options.counter !== undefined) {
        Atomics.sub(this.#state.i32, options.counter / 4, 1);
        options.undecodable?.();
      }
      throw e;
    }
  }

  /**
   * Blocks until a record is there or the ring is shut down, for at most
   * timeoutMs; whether either is. onIdle runs between slices.
   */
  pollSync(timeoutMs: number, onIdle?: OnIdle): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, C!.written / 4);
      if (this.items > 0 || this.isShutDown) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      if (native.waitSync(this.#state.segment, C!.written, seen, Math.min(left, RETRY_SLICE_MS)) === 'timed-out') onIdle?.();
    }
  }

  /**
   * Resolves once a record is there or the ring is shut down (true), or
   * after timeoutMs (false), without taking anything: a reader that must
   * take and handle a record in one synchronous step waits with this.
   */
  async poll(timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.#state.i32, C!.written / 4);
      if (this.items > 0 || this.isShutDown) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.#waiter.moved(C!.written, seen, left, signal);
    }
  }

  /** Shuts the ring down; false if `immediate` could not get its lock (held for a second) to drop the contents. */
  shutdown(immediate: boolean): boolean {
    return addon().ringShutdown(this.#handle, immediate, NOWAIT_LOCK_MS * 50) !== C!.status.timedOut;
  }

  /** Takes over the ring's lock if its holder died (and repairs the ring). */
  recover(): void {
    addon().ringRecover(this.#handle);
  }
}
