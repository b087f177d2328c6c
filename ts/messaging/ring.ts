// A ring of native/core/ring.h inside a queue's segment, seen from JS: items
// in and out (serialized, with large ones through a side segment), blocking
// sync forms in the addon, async forms over the native waiter threads.
//
//   bytes  0..15   SharedState header (ts/sync/layout.ts)
//          16..23  a wait cell: JoinableQueue's count of unfinished tasks
//          64..    the ring: RingHeader (64 bytes), then its data
import { Empty, Full } from '../errors';
import { addon } from '../addon';
import { deserialize, serialize } from '../handles';
import { SharedMemory } from '../shared_memory';
import type { SharedState } from '../sync/shared_state';
import { threadId } from '../sync/thread';
import { wait } from '../wait';

export const RING_OFFSET = 64;
const WRITTEN = RING_OFFSET + 16; // bumped after each put
const FREED = RING_OFFSET + 24; // bumped after each get
const ITEMS = (RING_OFFSET + 48) / 4;
const MAXSIZE = (RING_OFFSET + 52) / 4;
const CLOSED = (RING_OFFSET + 60) / 4;
const RING_HEADER = 64;
const RETRY_SLICE_MS = 20;

// Statuses of native/glue/ring.cc.
const OK = 0;
const FULL = 1;
const EMPTY = 2;
const TOO_BIG = 3;
const CLOSED_STATUS = 4;
const TIMED_OUT = 5;

// Record flags (byte 0). serialize() writes 0 or 1; these are ours.
const SIDE = 2; // the item is in a side segment, named by the rest of the record
const RAW = 3; // raw bytes (Connection.sendBytes)
// Fast paths: v8.serialize costs microseconds even for a number; these cost
// a few dozen nanoseconds.
const NUMBER = 4; // a float64 follows
const STRING = 5; // UTF-8 follows

/** Segment bytes for a queue whose ring holds `capacity` data bytes. */
export const queueBytes = (capacity: number): number => RING_OFFSET + RING_HEADER + Math.ceil(capacity / 8) * 8;

export function closedError(what: string): Error {
  return Object.assign(new Error(`${what} is closed`), { code: 'ERR_MP_CLOSED' });
}

export class Ring {
  readonly #state: SharedState;
  readonly #maxPayload: number;

  constructor(state: SharedState) {
    this.#state = state;
    this.#maxPayload = addon().ringMaxPayload(state.segment, RING_OFFSET);
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

  /** Serializes an item; one too large for a record goes into a side segment. */
  encode(item: unknown, raw = false): Buffer {
    let bytes: Buffer;
    if (typeof item === 'number' && !raw) {
      bytes = Buffer.allocUnsafe(9);
      bytes[0] = NUMBER;
      bytes.writeDoubleLE(item, 1);
    } else if (typeof item === 'string' && !raw && item.length < 4096) {
      bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(item));
      bytes[0] = STRING;
      bytes.write(item, 1);
    } else if (raw) {
      const view = item as Uint8Array;
      bytes = Buffer.allocUnsafe(view.byteLength + 1);
      bytes[0] = RAW;
      bytes.set(view, 1);
    } else {
      bytes = serialize(item, 'item');
    }
    if (bytes.length <= this.#maxPayload) return bytes;
    // Larger than the ring: one copy into a segment of its own, which the
    // receiver unlinks (and the tracker, if the receiver dies first).
    const side = new SharedMemory({ create: true, size: bytes.length });
    bytes.copy(side.buf);
    side.close();
    return Buffer.concat([Buffer.from([SIDE]), Buffer.from(side.name)]);
  }

  decode(record: Buffer, raw = false): unknown {
    if (record[0] === SIDE) {
      // Not copied out: v8.deserialize hands typed arrays and Buffers over as
      // views of its input, here the side segment itself. Its name goes now;
      // the mapping goes when the last view of it is collected.
      const side = new SharedMemory({ name: record.toString('latin1', 1) });
      side.unlink();
      return this.decode(side.buf, raw);
    }
    if (record[0] === NUMBER && !raw) return record.readDoubleLE(1);
    if (record[0] === STRING && !raw) return record.toString('utf8', 1);
    if (record[0] === RAW) return record.subarray(1);
    return raw ? record : deserialize(record);
  }

  #status(r: number, what: string): void {
    if (r === CLOSED_STATUS) throw closedError(what);
    if (r === TOO_BIG) throw new Error('internal error: a record larger than the ring');
  }

  /** Puts a record; timeoutMs 0: do not wait. Throws Full. */
  putSync(record: Buffer, timeoutMs: number, what: string): void {
    const r = addon().ringPut(this.#state.segment, RING_OFFSET, record, threadId(), timeoutMs === Infinity ? undefined : timeoutMs);
    if (r === OK) return;
    this.#status(r, what);
    // FULL when not waiting; TIMED_OUT after waiting: both mean no room.
    if (r !== FULL && r !== TIMED_OUT) throw new Error(`internal error: ring status ${r}`);
    throw new Full();
  }

  async put(record: Buffer, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<void> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, FREED / 4);
      const r = native.ringPut(this.#state.segment, RING_OFFSET, record, threadId(), 0);
      if (r === OK) return;
      this.#status(r, what);
      const left = deadline - performance.now();
      if (left <= 0) throw new Full();
      await wait(this.#state.segment, FREED, seen, { timeout: Math.min(left, RETRY_SLICE_MS), signal });
    }
  }

  /** Takes a record; timeoutMs 0: do not wait. Throws Empty, or the closed error once closed and drained. */
  getSync(timeoutMs: number, what: string): Buffer {
    const r = addon().ringGet(this.#state.segment, RING_OFFSET, threadId(), timeoutMs === Infinity ? undefined : timeoutMs);
    if (typeof r !== 'number') return r;
    this.#status(r, what);
    throw new Empty();
  }

  async get(timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<Buffer> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, WRITTEN / 4);
      const r = native.ringGet(this.#state.segment, RING_OFFSET, threadId(), 0);
      if (typeof r !== 'number') return r;
      if (r !== EMPTY) this.#status(r, what);
      const left = deadline - performance.now();
      if (left <= 0) throw new Empty();
      await wait(this.#state.segment, WRITTEN, seen, { timeout: Math.min(left, RETRY_SLICE_MS), signal });
    }
  }

  /** Blocks until a record is there or the ring is closed, for at most timeoutMs; whether one is. */
  pollSync(timeoutMs: number): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const native = addon();
    for (;;) {
      const seen = Atomics.load(this.#state.i32, WRITTEN / 4);
      if (this.items > 0) return true;
      if (this.closed) return false;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      native.waitSync(this.#state.segment, WRITTEN, seen, Math.min(left, RETRY_SLICE_MS));
    }
  }

  close(): void {
    addon().ringClose(this.#state.segment, RING_OFFSET, threadId());
  }
}
