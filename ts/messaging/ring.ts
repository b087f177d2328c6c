// A ring of native/core/ring.h inside a queue's segment, seen from JS: items
// in and out (encoded by encoding.ts, with large ones through a side
// segment), blocking sync forms in the addon, async forms that spin briefly
// on the event loop and then wait on the native waiter threads.
//
//   bytes  0..15   SharedState header (ts/sync/layout.ts)
//          16..23  a wait cell: JoinableQueue's count of unfinished tasks
//          64..    the ring: RingHeader (64 bytes), then its data
import { Empty, Full } from '../errors';
import { addon } from '../addon';
import type { RingHandle } from '../native';
import type { SharedState } from '../sync/shared_state';
import { eventLoopSpinMs, wait } from '../wait';
import { decode, decodeBytes, discard, encode, toSide, type RecordValue } from './encoding';

export const RING_OFFSET = 64;
const WRITTEN = RING_OFFSET + 16; // bumped after each put
const FREED = RING_OFFSET + 24; // bumped after each get
const ITEMS = (RING_OFFSET + 48) / 4;
const MAXSIZE = (RING_OFFSET + 52) / 4;
const CLOSED = (RING_OFFSET + 60) / 4;
const RING_HEADER = 64;
const RETRY_SLICE_MS = 20;
// Longest an async caller goes on through successful spins (which settle its
// promises as microtasks) before letting the event loop turn once.
const MAX_LOOP_HOLD_MS = 1;
// An async wait longer than this found the queue quiet rather than the
// partner busy: then spinning before the next waits is not worth it.
const QUIET_MS = 1;
const turnOfTheLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Statuses of native/glue/ring.cc.
const OK = 0;
const FULL = 1;
const EMPTY = 2;
const TOO_BIG = 3;
const CLOSED_STATUS = 4;
const TIMED_OUT = 5;

/** Segment bytes for a queue whose ring holds `capacity` data bytes. */
export const queueBytes = (capacity: number): number => RING_OFFSET + RING_HEADER + Math.ceil(capacity / 8) * 8;

export function closedError(what: string): Error {
  return Object.assign(new Error(`${what} is closed`), { code: 'ERR_MP_CLOSED' });
}

export class Ring {
  readonly #state: SharedState;
  readonly #handle: RingHandle;
  // Where the addon leaves each get's [status, tag]: no result object per call.
  readonly #result = new Int32Array(new ArrayBuffer(8));
  // Async waits that skip the spin, after waits that found the queue quiet.
  #spinSkips = 0;
  #quietWaits = 0; // in a row
  #loopHeldSince = 0; // when spins began to stand in for turns of the loop

  constructor(state: SharedState) {
    this.#state = state;
    this.#handle = addon().ringOpen(state.segment, RING_OFFSET, this.#result);
  }

  static init(state: SharedState, capacity: number, maxsize: number): void {
    addon().ringInit(state.segment, RING_OFFSET, capacity, maxsize);
  }

  get items(): number {
    return Atomics.load(this.#state.i32, ITEMS);
  }

  get maxsize(): number {
    return this.#state.i32[MAXSIZE]!;
  }

  get closed(): boolean {
    return Atomics.load(this.#state.i32, CLOSED) !== 0;
  }

  #check(r: number, what: string): void {
    if (r === CLOSED_STATUS) throw closedError(what);
    if (r !== FULL && r !== TIMED_OUT && r !== EMPTY) throw new Error(`internal error: ring status ${r}`);
  }

  /** Puts an item (raw: bytes as they are); timeoutMs 0: do not wait. Throws Full. */
  putSync(item: unknown, raw: boolean, timeoutMs: number, what: string): void {
    const native = addon();
    const timeout = timeoutMs === Infinity ? undefined : timeoutMs;
    let record = encode(item, raw);
    try {
      let r = native.ringPut(this.#handle, record.tag, record.value, timeout);
      // Too large for a record: again, through a side segment.
      if (r === TOO_BIG) r = native.ringPut(this.#handle, (record = toSide(record)).tag, record.value, timeout);
      if (r === OK) return;
      this.#check(r, what);
      throw new Full(); // FULL when not waiting, TIMED_OUT after waiting: no room either way
    } catch (e) {
      discard(record);
      throw e;
    }
  }

  async put(item: unknown, raw: boolean, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<void> {
    let record = encode(item, raw);
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    try {
      for (;;) {
        const seen = Atomics.load(this.#state.i32, FREED / 4);
        let r = native.ringPut(this.#handle, record.tag, record.value, 0);
        if (r === TOO_BIG) r = native.ringPut(this.#handle, (record = toSide(record)).tag, record.value, 0);
        if (r === OK) return;
        this.#check(r, what);
        const left = deadline - performance.now();
        if (left <= 0) throw new Full();
        await this.#moved(FREED, seen, left, signal);
      }
    } catch (e) {
      discard(record);
      throw e;
    }
  }

  /** Takes the oldest item; timeoutMs 0: do not wait. Throws Empty, or the closed error once closed and drained. */
  getSync(raw: boolean, timeoutMs: number, what: string): unknown {
    const value = addon().ringGet(this.#handle, timeoutMs === Infinity ? undefined : timeoutMs);
    const r = this.#result[0];
    if (r === OK) return this.#item(this.#result[1]!, value!, raw);
    this.#check(r, what);
    throw new Empty();
  }

  async get(raw: boolean, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<unknown> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, WRITTEN / 4);
      const value = native.ringGet(this.#handle, 0);
      const r = this.#result[0];
      if (r === OK) return this.#item(this.#result[1]!, value!, raw);
      this.#check(r, what);
      const left = deadline - performance.now();
      if (left <= 0) throw new Empty();
      await this.#moved(WRITTEN, seen, left, signal);
    }
  }

  // Resolves once the counter at byte `offset` has moved from `seen` (or in
  // at most RETRY_SLICE_MS, or `left`): a spin on the event loop first (see
  // eventLoopSpinMs), then a native waiter thread.
  async #moved(offset: number, seen: number, left: number, signal: AbortSignal | undefined): Promise<void> {
    const start = performance.now();
    if (this.#spinSkips > 0) {
      this.#spinSkips--;
    } else if (this.#spin(offset / 4, seen, start)) {
      if (this.#loopHeldTooLong()) await turnOfTheLoop();
      return;
    }
    await wait(this.#state.segment, offset, seen, { timeout: Math.min(left, RETRY_SLICE_MS), signal });
    this.#loopHeldSince = 0;
    // A partner that answered within QUIET_MS is busy: keep spinning, for
    // once both sides spin again the next answer is caught. (Backing off after
    // every missed spin instead kept two awaiting partners asleep, at
    // 110-140 us a round trip, for seconds.) A queue quiet for longer backs
    // off: the next 1, 2, 4 ... 64 waits skip the spin.
    if (performance.now() - start < QUIET_MS) {
      this.#quietWaits = 0;
      this.#spinSkips = 0;
    } else {
      this.#spinSkips = Math.min(2 ** this.#quietWaits++, 64);
    }
  }

  // Spins on the event loop until the word moves from `seen`; false if it did
  // not within eventLoopSpinMs of `start`.
  #spin(word: number, seen: number, start: number): boolean {
    const limit = eventLoopSpinMs();
    if (limit === 0) return false;
    const i32 = this.#state.i32;
    const until = start + limit;
    do {
      if (Atomics.load(i32, word) !== seen) return true;
    } while (performance.now() < until);
    return false;
  }

  // A wait through the waiter thread lets the event loop turn; one that a
  // spin ended does not. After MAX_LOOP_HOLD_MS of those, timers and I/O get
  // their turn (measured without this: 20 ms between 1 ms timer ticks while
  // a consumer kept up with a fast producer).
  #loopHeldTooLong(): boolean {
    const now = performance.now();
    if (this.#loopHeldSince === 0) this.#loopHeldSince = now;
    if (now - this.#loopHeldSince < MAX_LOOP_HOLD_MS) return false;
    this.#loopHeldSince = 0;
    return true;
  }

  #item(tag: number, value: RecordValue, raw: boolean): unknown {
    return raw ? decodeBytes(tag, value) : decode(tag, value);
  }

  /** Blocks until a record is there or the ring is closed, for at most timeoutMs; whether either is. */
  pollSync(timeoutMs: number): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, WRITTEN / 4);
      if (this.items > 0 || this.closed) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      native.waitSync(this.#state.segment, WRITTEN, seen, Math.min(left, RETRY_SLICE_MS));
    }
  }

  close(): void {
    addon().ringClose(this.#handle);
  }
}
