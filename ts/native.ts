// The addon, loaded once, behind a typed interface. Nothing else in ts/
// touches node-gyp-build or untyped native values.
import path from 'node:path';

/** An opaque handle on a ring (a Node-API External). */
declare const ringHandle: unique symbol;
export type RingHandle = { readonly [ringHandle]: true };

/** One mapping of a shared-memory segment (native/glue/segment.h). */
export interface NativeSegment {
  readonly name: string;
  readonly size: number;
  /** Zero-copy view; one Buffer per Segment. Throws ERR_MP_CLOSED after close(). */
  readonly buffer: Buffer;
  readonly closed: boolean;
  close(): void;
}

export interface NativeSegmentClass {
  create(name: string, size: number, track: boolean): NativeSegment;
  open(name: string): NativeSegment;
  unlink(name: string): void;
}

/** A POSIX named semaphore (native/core/semaphore.h). */
export interface NativeSemaphore {
  readonly name: string;
  readonly value: number;
  post(): void;
  /** Blocks the calling thread; false on timeout. */
  wait(timeoutMs?: number): boolean;
  tryWait(): boolean;
  close(): void;
}

export interface NativeSemaphoreClass {
  create(name: string, value: number, track: boolean): NativeSemaphore;
  open(name: string): NativeSemaphore;
  unlink(name: string): void;
}

export type WaitOutcome = 'ok' | 'not-equal' | 'timed-out';

export interface SpinPolicyState {
  maxSpinNs: number;
  adaptive: boolean;
  currentBudgetNs: number;
}

export interface NativeBinding {
  readonly Segment: NativeSegmentClass;
  readonly NamedSemaphore: NativeSemaphoreClass;
  /** Hash of the native sources this binary was built from. */
  readonly sourceHash: string;
  noop(): void;
  /** Blocks while the 32-bit word at `offset` equals `expected` (spin, then sleep). */
  waitSync(seg: NativeSegment, offset: number, expected: number, timeoutMs?: number): WaitOutcome;
  /** Same without blocking: settled by a waiter thread. `id` lets cancelWait() find it. */
  wait(seg: NativeSegment, offset: number, expected: number, timeoutMs: number | undefined, id: number):
    Promise<WaitOutcome | 'cancelled'>;
  cancelWait(id: number): boolean;
  wake(seg: NativeSegment, offset: number, count?: number): number;
  /** Contended lock acquisition (native/core/lock.h): 0 acquired, 1 taken from a dead owner, 2 timed out. */
  lockAcquire(seg: NativeSegment, offset: number, tid: number, timeoutMs?: number): 0 | 1 | 2;
  /** Takes the lock if `owner` still holds it and that thread is gone. */
  lockTakeIfOwnerDead(seg: NativeSegment, offset: number, owner: number, tid: number): boolean;
  /** This thread's kernel id (the pid on the main thread). */
  threadId(): number;
  storeAndWake(seg: NativeSegment, offset: number, value: number, count?: number): number;
  // The ring of native/core/ring.h at `offset` (a multiple of 64) of `seg`,
  // reached through the handle ringOpen returns (native/glue/ring.cc).
  // Statuses: 0 ok, 1 full, 2 empty, 3 too big, 4 closed, 5 timed out. timeoutMs 0: try once.
  // A tag's low two bits say what the value is: 0 bytes, 1 a string (UTF-8), 2 a number.
  ringInit(seg: NativeSegment, offset: number, capacity: number, maxsize: number): void;
  /** result: where each get leaves [status, tag]. */
  ringOpen(seg: NativeSegment, offset: number, result: Int32Array): RingHandle;
  ringPut(ring: RingHandle, tag: number, value: Uint8Array | string | number, timeoutMs?: number): number;
  /** The record's value (see result for its tag), or undefined when status is not ok. */
  ringGet(ring: RingHandle, timeoutMs?: number): Buffer | string | number | undefined;
  ringClose(ring: RingHandle): void;
  getSpinPolicy(): SpinPolicyState;
  setSpinPolicy(maxSpinNs: number, adaptive: boolean): void;
  kill(pid: number, signal: number): void;
  /** Returns getppid() read after the call (compare it with the expected parent). */
  setParentDeathSignal(signal: number): number;
  /** Blocks up to timeoutMs (0: peek) for a child's exit without reaping it; null while running. */
  waitChildExit(pid: number, timeoutMs?: number): { code: number; signal: number } | null;
  /** A blocking pipe, both ends close-on-exec: [readFd, writeFd]. */
  pipe(): [number, number];
  /**
   * Starts the trackers if this process has none. pid: the program's tag (the pid of its
   * first tracker, which may have handed over since); fd: this process's end of the channel.
   */
  trackerInfo(): { pid: number; fd: number };
  /** Adopts the tracker channel inherited from the parent (false if `fd` is not one). */
  trackerAdopt(fd: number, pid: number): boolean;
  trackerRemove(kind: 'segment' | 'semaphore', name: string): void;
  trackerUnregister(kind: 'segment' | 'semaphore', name: string): void;
}

// node-gyp-build prefers build/Release (a developer's build) and otherwise
// picks the matching prebuilds/<platform>-<arch>/ binary.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

export const native = load(path.join(__dirname, '..')) as NativeBinding;
