// The shared-memory layout of every multiproc object (except a plain
// SharedMemory, which is the user's bytes), in 32-bit words. The lock and
// wait-cell layouts must agree with native/core/lock.h and
// native/core/wait_cell.h (test/sync-layout.test.ts checks them).
//
// Every object lives in its own segment:
//
//   word   0..15   header: MAGIC, kind, layout version, initialized (0 -> 1),
//                  flags, the holder table's give-up counter, reserved
//   word  16..255  holders: HOLDERS entries of [tid, stamp] -- who has the
//                  object open, and handles of it in flight (entries.ts,
//                  shared_state.ts)
//   word 256..     the object's state (below), from byte 1024
//
// The creator writes the state and then sets `initialized`; a process that
// opens a named object waits for that flag, so it never sees a half-made one.

export const MAGIC = 0x4d505359; // "MPSY"
/** What a queue item's side segment starts with (messaging/encoding.ts). */
export const SIDE_MAGIC = 0x4453504d; // "MPSD"
// Bumped whenever a layout changes, so that processes running different
// versions refuse each other's objects instead of misreading them.
// 2: queue records carry an encoding tag (native/core/ring.h).
// 3: holder tables, owner stamps in locks, side segments with a header.
export const VERSION = 3;

export const HEADER = { magic: 0, kind: 1, version: 2, initialized: 3, flags: 4, holderGiveUps: 5 } as const;
/** Header flags. */
export const FLAG = {
  /** A named object: it lasts until unlink(), holders are not counted. */
  named: 1,
  /** The holder table overflowed: the object is never unlinked before the program ends. */
  pinned: 2,
} as const;

/** The holder table: entries of [tid, stamp]; see entries.ts. */
export const HOLDERS = { first: 16, entries: 120, words: 2 } as const;
/** Word index where an object's own state begins (byte 1024). */
export const STATE = 256;

export enum Kind {
  Lock = 1,
  RLock = 2,
  Semaphore = 3,
  BoundedSemaphore = 4,
  Event = 5,
  Condition = 6,
  Barrier = 7,
  Queue = 8,
  Value = 9,
  SharedArray = 10,
}

/** native/core/wait_cell.h: value, then the number of announced sleepers. */
export const WAIT_CELL = { value: 0, sleepers: 1, words: 2 } as const;

/** native/core/lock.h LockState: owner tid, sleepers, recursion count, owner stamp. */
export const LOCK = { owner: 0, sleepers: 1, count: 2, stamp: 3, words: 4 } as const;

/**
 * Semaphore: a wait cell on the value, the bound (BoundedSemaphore's
 * initial value), flags; with trackHolders, a table of [tid, stamp, units,
 * unused] entries: who holds how many units (a dead holder's are given back).
 */
export const SEMAPHORE = { value: 0, sleepers: 1, max: 2, flags: 3, holders: 4, entries: 256, entryWords: 4 } as const;
export const SEMAPHORE_TRACKED = 1;

/** Event: a wait cell on the flag. */
export const EVENT = { flag: 0, sleepers: 1, words: 2 } as const;

/**
 * Condition (its lock is another object): the arrival counter, the highest
 * entry in use + 1, then waiter entries of [tid, stamp, state, sleepers,
 * arrival, notifiedAt]; state and sleepers are the wait cell the waiter
 * sleeps on (0 free, 1 waiting, 2 notified).
 */
export const CONDITION = {
  arrivals: 0,
  high: 1,
  entries: 2,
  count: 256,
  entryWords: 6,
  tid: 0,
  stamp: 1,
  state: 2,
  arrival: 4,
  notifiedAt: 5,
} as const;
export const WAITER = { free: 0, waiting: 1, notified: 2 } as const;

/**
 * Barrier: an internal robust lock, a wait cell bumped at every change,
 * the state, the number of parties in the current cycle, parties, the
 * cycle's generation, and the outcome of recent cycles; then one [tid,
 * stamp] entry per party of the current cycle.
 */
export const BARRIER = {
  lock: 0, // LOCK.words
  seq: 4,
  seqSleepers: 5, // a wait cell
  state: 6, // 0 filling, 2 running the action, -2 broken
  count: 7,
  parties: 8,
  generation: 9,
  outcomes: 10, // OUTCOMES entries of [generation, outcome]
  outcomeEntries: 32,
  members: 74, // parties entries of [tid, stamp]
} as const;

/**
 * Queue (and JoinableQueue, Pipe): a wait cell bumped when a task is done,
 * flags, then the consumers of a JoinableQueue ([tid, stamp, taken,
 * unused]: how many items each has taken and not yet marked done), then the
 * ends of a pipe's direction ([tid, stamp]: who may still send) and that
 * table's give-up counter (entries.ts). The ring
 * (native/core/ring.h) starts at byte RING_OFFSET.
 */
export const QUEUE = {
  done: 0,
  doneSleepers: 1,
  flags: 2,
  overflow: 3, // items taken by consumers that found no free entry (never recovered)
  consumers: 4,
  consumerEntries: 128,
  consumerWords: 4,
  senders: 4 + 128 * 4,
  senderEntries: 32,
  senderWords: 2,
  senderGiveUps: 4 + 128 * 4 + 32 * 2,
} as const;
export const QUEUE_CONSUMERS_OVERFLOWED = 1;
export const QUEUE_SENDERS_OVERFLOWED = 2;
/** Byte offset of the ring in a queue's segment (a page, past the header and QUEUE). */
export const RING_OFFSET = 4096;

/**
 * Value / SharedArray: an embedded RLock (used when the object has its own
 * lock), the typecode's index in TYPECODES, flags, the length (low and high
 * words), then the data from byte DATA_OFFSET.
 */
export const VALUE = { lock: 0, typecode: 4, flags: 5, lengthLow: 6, lengthHigh: 7, words: 8 } as const;
export const VALUE_HAS_LOCK = 1;
export const DATA_OFFSET = STATE * 4 + 64;

export const bytesFor = (stateWords: number): number => (STATE + stateWords) * 4;
