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
  /** Another process shrank the file under this mapping (its tail now reads zeros: native/core/shm.h). */
  readonly truncated: boolean;
  close(): void;
}

export interface NativeSegmentClass {
  create(name: string, size: number, track: boolean): NativeSegment;
  /** Refuses (EPERM) a file not owned by us or writable by others, and (EBADMSG) one smaller than minSize. */
  open(name: string, minSize?: number): NativeSegment;
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

/** Byte offsets and sizes of the structs native/core shares with other processes, and the ring's codes. */
export interface NativeLayout {
  readonly waitCell: { readonly bytes: number; readonly value: number; readonly sleepers: number };
  readonly lock: {
    readonly bytes: number;
    readonly owner: number;
    readonly sleepers: number;
    readonly count: number;
    readonly stamp: number;
  };
  readonly ring: {
    readonly bytes: number;
    readonly lock: number;
    readonly written: number;
    readonly freed: number;
    readonly head: number;
    readonly tail: number;
    readonly items: number;
    readonly maxsize: number;
    readonly capacity: number;
    readonly shutDown: number;
    readonly recordHeader: number;
    readonly wrapTag: number;
  };
  readonly ringStatus: {
    readonly ok: number;
    readonly full: number;
    readonly empty: number;
    readonly tooBig: number;
    readonly shutDown: number;
    readonly timedOut: number;
    readonly busy: number;
  };
  readonly representation: {
    readonly bytes: number;
    readonly utf8: number;
    readonly float64: number;
    readonly bits: number;
    readonly maxTag: number;
  };
}

export interface NativeBinding {
  readonly Segment: NativeSegmentClass;
  readonly NamedSemaphore: NativeSemaphoreClass;
  /** Hash of the native sources this binary was built from. */
  readonly sourceHash: string;
  /** The shared layouts and codes of the C++ headers (native/glue/layout.cc). */
  readonly layout: NativeLayout;
  noop(): void;
  /** Blocks while the 32-bit word at `offset` equals `expected` (spin, then sleep). */
  waitSync(seg: NativeSegment, offset: number, expected: number, timeoutMs?: number): WaitOutcome;
  /** Same without blocking: settled by a waiter thread. `id` lets cancelWait() find it. */
  wait(seg: NativeSegment, offset: number, expected: number, timeoutMs: number | undefined, id: number): Promise<WaitOutcome | 'cancelled'>;
  cancelWait(id: number): boolean;
  wake(seg: NativeSegment, offset: number, count?: number): number;
  /**
   * Contended lock acquisition for this thread (native/core/lock.h): 0
   * acquired, 1 taken from a dead owner, 2 timed out. timeoutMs 0: one try,
   * and a dead owner's lock taken over.
   */
  lockAcquire(seg: NativeSegment, offset: number, timeoutMs?: number): 0 | 1 | 2;
  /** Takes the lock for this thread if `owner` still holds it and that holder is gone. */
  lockTakeIfOwnerDead(seg: NativeSegment, offset: number, owner: number): boolean;
  /** This thread's kernel id (the pid on the main thread) and stamp (its start time, never 0). */
  threadIdentity(): [tid: number, stamp: number];
  /** Whether that incarnation of thread `tid` lives (stamp 0: any thread with that id). */
  threadAlive(tid: number, stamp: number): boolean;
  /** The stamp of thread `tid` (a process's pid: its main thread); 0 if there is none. */
  threadStampOf(tid: number): number;
  /** Segments this process maps, and the most it may (below the kernel's vm.max_map_count). */
  mappingStats(): { count: number; limit: number };
  storeAndWake(seg: NativeSegment, offset: number, value: number, count?: number): number;
  // The ring of native/core/ring.h at `offset` (a multiple of 64) of `seg`,
  // reached through the handle ringOpen returns (native/glue/ring.cc).
  // Statuses: 0 ok, 1 full, 2 empty, 3 too big, 4 shut down, 5 timed out,
  // 6 busy (a one-try call found the ring's lock held for lockMs); a
  // corrupt ring throws ERR_MP_CORRUPT. timeoutMs 0: try once, waiting at
  // most lockMs (default 0: one compare-and-swap) for the ring's lock.
  // A tag's low two bits say what the value is: 0 bytes, 1 a string (UTF-8), 2 a number.
  ringInit(seg: NativeSegment, offset: number, capacity: number, maxsize: number): void;
  /** result: where each get leaves [status, tag]. */
  ringOpen(seg: NativeSegment, offset: number, result: Int32Array): RingHandle;
  ringPut(ring: RingHandle, tag: number, value: Uint8Array | string | number, timeoutMs?: number, lockMs?: number): number;
  /**
   * The record's value (see result for its tag), or undefined when status is
   * not ok. counterOffset: a u32 of the segment the get increments under
   * the ring's lock (a JoinableQueue consumer's count of items taken).
   */
  ringGet(ring: RingHandle, timeoutMs?: number, lockMs?: number, counterOffset?: number): Buffer | string | number | undefined;
  /** Refuses further puts; with immediate, drops the contents (needs the lock within timeoutMs: else status 5). */
  ringShutdown(ring: RingHandle, immediate: boolean, timeoutMs?: number): number;
  /** Takes over (and repairs) the ring's lock if its holder died: whether it did. */
  ringRecover(ring: RingHandle): boolean;
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

export const native = load(path.join(__dirname, '..', '..')) as NativeBinding;
