// The shared-memory layout of every synchronization primitive, in 32-bit
// words. The lock and wait-cell layouts must agree with native/core/lock.h
// and native/core/wait_cell.h (test/sync-layout.test.ts checks them).
//
// Every primitive lives in its own small segment:
//
//   word 0..3   header: MAGIC, kind, layout version, initialized (0 -> 1)
//   word 4..    the primitive's state (below)
//
// The creator writes the state and then sets `initialized`; a process that
// opens a named primitive waits for that flag, so it never sees a half-made one.

export const MAGIC = 0x4d505359; // "MPSY"
// Bumped whenever a layout changes, so that processes running different
// versions refuse each other's objects instead of misreading them.
// 2: queue records carry an encoding tag (native/core/ring.h).
export const VERSION = 2;

export const HEADER = { magic: 0, kind: 1, version: 2, initialized: 3 } as const;
export const STATE = 4;

export enum Kind {
  Lock = 1,
  RLock = 2,
  Semaphore = 3,
  BoundedSemaphore = 4,
  Event = 5,
  Condition = 6,
  Barrier = 7,
  Queue = 8,
}

/** native/core/wait_cell.h: value, then the number of announced sleepers. */
export const WAIT_CELL = { value: 0, sleepers: 1, words: 2 } as const;

/** native/core/lock.h LockState: owner tid, sleepers, recursion count, reserved. */
export const LOCK = { owner: 0, sleepers: 1, count: 2, words: 4 } as const;

/** Semaphore: a wait cell on the value, then the bound (BoundedSemaphore's initial value). */
export const SEMAPHORE = { value: 0, sleepers: 1, max: 2, words: 4 } as const;

/** Event: a wait cell on the flag. */
export const EVENT = { flag: 0, sleepers: 1, words: 2 } as const;

/**
 * Condition: a wait cell on a notification sequence number, the number of
 * waiters, and the signals notify() granted and no waiter has taken yet (its
 * lock is another object).
 */
export const CONDITION = { seq: 0, sleepers: 1, waiters: 2, signals: 3, words: 4 } as const;

/**
 * Barrier: Python's threading.Barrier state machine, shared: an internal lock
 * and a notification sequence (a Condition over it), then the state.
 */
export const BARRIER = {
  lock: 0, // LOCK.words
  seq: 4, seqSleepers: 5, // a wait cell
  state: 6, // 0 filling, 1 draining, -1 resetting, -2 broken
  count: 7,
  parties: 8,
  words: 9,
} as const;

export const bytesFor = (stateWords: number): number => (STATE + stateWords) * 4;
