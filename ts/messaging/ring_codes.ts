// Where the ring's fields are in a queue's segment (byte offsets for the
// addon's waits, word indexes for Atomics) and what its calls return: read
// from the addon (native/glue/layout.cc), which takes them from
// native/core/ring.h and native/glue/ring_codes.h (ring.ts draws the
// segment). Filled in by the first Ring or queueBytes() call: importing this
// module does not load the addon.
import { addon } from '../binding/addon';
import type { NativeLayout } from '../binding/native';
import { RING_OFFSET } from '../binding/layout';

/** How long a wait goes on in one piece before it looks around (a dead lock holder, a pipe's senders). */
export const RETRY_SLICE_MS = 20;

export interface RingCodes {
  readonly lock: number; // byte offset of the ring's LockState
  readonly written: number; // byte offset of the wait cell bumped after each put
  readonly freed: number; // ... and after each get
  readonly items: number; // word indexes from here on
  readonly maxsize: number;
  readonly capacity: number;
  readonly shut: number;
  readonly head: number; // byte offset of head, then tail (u64 each)
  readonly header: number; // bytes of RingHeader
  readonly status: NativeLayout['ringStatus'];
}
let C: RingCodes | undefined;

export function ringCodes(): RingCodes {
  if (C) return C;
  const { ring, ringStatus } = addon().layout;
  const word = (offset: number): number => (RING_OFFSET + offset) / 4;
  C = Object.freeze({
    lock: RING_OFFSET + ring.lock,
    written: RING_OFFSET + ring.written,
    freed: RING_OFFSET + ring.freed,
    items: word(ring.items),
    maxsize: word(ring.maxsize),
    capacity: word(ring.capacity),
    shut: word(ring.shutDown),
    head: RING_OFFSET + ring.head,
    header: ring.bytes,
    status: ringStatus,
  });
  return C;
}

/** Segment bytes for a queue whose ring holds `capacity` data bytes. */
export const queueBytes = (capacity: number): number => RING_OFFSET + ringCodes().header + Math.ceil(capacity / 8) * 8;
