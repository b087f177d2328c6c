// Lock and RLock: Python's multiprocessing.Lock / RLock, one shared lock
// state each (native/core/lock.h: owner, sleepers, count, owner stamp).
//
// The uncontended path is JavaScript: acquire is one compare-and-swap of the
// owner word (0 -> this thread's id) and a store of this thread's stamp;
// release two stores, on the shared memory through V8's Atomics (real atomic
// instructions, so they exclude other processes too). Only a contended
// acquire calls into the addon, to spin and sleep -- and to take over the
// lock of a holder that died (native/core/lock.h): the next acquirer gets a
// dead holder's lock within ~20 ms and finds `ownerDied` true. Python
// deadlocks there. The stamp is what tells a dead holder from a stranger that
// was given its thread id later.
import { Handoff } from '../base/handoff';
import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import { addon } from '../binding/addon';
import { getLogger } from '../base/logging';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { wait } from '../wait/wait';
import { Kind, LOCK } from '../binding/layout';
import { asyncOptions, deadlineAfter, remaining, syncTimeout, type AsyncOptions, type SyncOptions, describe } from '../base/validate';
import { remember, handleOf, reviveShared } from '../shm/holds';
import { SharedState } from '../shm/shared_state';
import { threadId, threadStamp } from '../shm/thread';

export interface LockOptions {
  /**
   * Open-or-create a lock any process of this user can open by the same name
   * (cluster workers, separate services). Named locks persist until
   * unlink()ed; unnamed ones are removed when no process uses them any more,
   * or when the program ends.
   */
  name?: string;
}

// The RLocks held by the current async context (inside withLock): an async
// acquire() re-enters only there. Ownership is per thread, and two async
// tasks of one thread must still exclude each other.
const heldHere = new AsyncLocalStorage<ReadonlySet<LockBase>>();

/** How long a contended async acquire waits before it checks the holder is alive. */
const LIVENESS_SLICE_MS = 20;

// Set by the handle revivers and by the embedding types (Value) for the
// constructor: the state to use instead of creating one, and where in it.
const revived = new Handoff<{ state: SharedState; base: number; embedded: boolean }>();

abstract class LockBase implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #owner: number;
  readonly #count: number;
  readonly #stamp: number;
  readonly #offset: number;
  readonly #reentrant: boolean;
  /** Word of the lock inside its state (0 unless embedded in another object). */
  readonly #base: number;
  readonly #embedded: boolean;
  #ownerDied = false;

  protected constructor(kind: Kind.Lock | Kind.RLock, options: LockOptions | undefined) {
    let state: SharedState;
    let base = 0;
    let embedded = false;
    const revival = revived.take();
    if (revival) {
      ({ state, base, embedded } = revival);
    } else {
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new TypeError(`${Kind[kind]} options must be an object, got ${describe(options)}`);
      }
      for (const key of Object.keys(options ?? {})) {
        if (key !== 'name') throw new TypeError(`unknown ${Kind[kind]} option ${JSON.stringify(key)}`);
      }
      state = SharedState.createOrOpen(kind, LOCK.words, options?.name, () => {});
    }
    this.#state = state;
    this.#i32 = state.i32;
    this.#base = base;
    this.#embedded = embedded;
    this.#owner = state.at(base + LOCK.owner);
    this.#count = state.at(base + LOCK.count);
    this.#stamp = state.at(base + LOCK.stamp);
    this.#offset = state.offset(base + LOCK.owner);
    this.#reentrant = kind === Kind.RLock;
    remember(state, this, !embedded);
  }

  /**
   * True when this process's latest acquisition took the lock over from a
   * holder that died while holding it: whatever the lock protected may be
   * half-updated. A warning is logged too.
   */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** Blocks the thread until acquired; false if `block: false` or the timeout found it held. */
  acquireSync(options?: SyncOptions | number): boolean {
    const timeout = syncTimeout(options, 'acquireSync');
    const me = threadId();
    if (this.#reentered() || this.#tryTake(me)) return true;
    const r = addon().lockAcquire(this.#state.segment, this.#offset, timeout === Infinity ? undefined : timeout);
    if (r === 2) return false;
    return this.#took(r === 1, 0);
  }

  /**
   * Resolves true once acquired, false on timeout; never blocks the event
   * loop. An RLock re-enters here only inside its own withLock() callback:
   * elsewhere another task of this thread holding it must release it first.
   */
  async acquire(options?: AsyncOptions | number): Promise<boolean> {
    const { timeout, signal } = asyncOptions(options, 'acquire');
    const me = threadId();
    if ((this.#reentrant && heldHere.getStore()?.has(this) && this.#reentered()) || this.#tryTake(me)) return true;
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const owner = Atomics.load(this.#i32, this.#owner);
      if (owner === 0) {
        if (this.#tryTake(me)) return true;
        continue;
      }
      const left = remaining(deadline);
      if (left === 0) return false;
      const slice = Math.min(left ?? Infinity, LIVENESS_SLICE_MS);
      const outcome = await wait(this.#state.segment, this.#offset, owner, { timeout: slice, signal });
      if (outcome === 'timed-out' && addon().lockTakeIfOwnerDead(this.#state.segment, this.#offset, owner)) {
        return this.#took(true, owner);
      }
    }
  }

  release(): void {
    const owner = Atomics.load(this.#i32, this.#owner);
    if (this.#reentrant) {
      if (owner !== threadId() || this.#i32[this.#stamp] !== threadStamp()) {
        // _isMine(), with the owner read once
        throw new Error(
          owner === 0
            ? 'cannot release an RLock that is not acquired'
            : `cannot release an RLock held by another thread or process (thread ${owner})`,
        );
      }
      const count = this.#i32[this.#count] - 1;
      this.#i32[this.#count] = count;
      if (count > 0) return;
    } else if (owner === 0) {
      throw new Error('release() called on an unlocked Lock');
    }
    this.#i32[this.#count] = 0;
    // Plain stores, like lock.h's relaxed ones: the release store of the
    // owner below orders this one before it, as the CAS in #tryTake orders
    // the stamp's store after it -- a reader that sees owner T reads 0 or
    // T's stamp (an Atomics.store would be a full fence, ~20 ns, for nothing).
    this.#i32[this.#stamp] = 0;
    Atomics.store(this.#i32, this.#owner, 0);
    if (Atomics.load(this.#i32, this.#owner + 1) !== 0) addon().wake(this.#state.segment, this.#offset, 1);
  }

  /** Whether any thread of any process holds it. */
  locked(): boolean {
    return Atomics.load(this.#i32, this.#owner) !== 0;
  }

  /** acquire(), run fn, release() -- also when fn throws. An RLock may be re-acquired inside fn. */
  async withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError('withLock() takes a function');
    await this.acquire();
    try {
      const held = new Set(heldHere.getStore());
      held.add(this);
      return await heldHere.run(held, fn);
    } finally {
      this.release();
    }
  }

  /** Removes a named lock's name (see LockOptions.name); holders keep using it. */
  unlink(): void {
    this.#state.unlink();
  }

  /** @internal for Condition: whether this thread (this incarnation of its id) holds it. */
  _isMine(): boolean {
    // The stamp's load is plain (after the owner's atomic one), like its stores.
    return Atomics.load(this.#i32, this.#owner) === threadId() && this.#i32[this.#stamp] === threadStamp();
  }

  /** @internal for Condition.wait: release completely, returning the depth to restore. */
  _releaseAll(): number {
    const depth = this.#reentrant ? this.#i32[this.#count] : 1;
    if (this.#reentrant) this.#i32[this.#count] = 1;
    this.release();
    return depth;
  }

  /** @internal for Condition.wait: after re-acquiring, restore the depth. */
  _restore(depth: number): void {
    if (this.#reentrant) this.#i32[this.#count] = depth;
  }

  /** @internal the word a Condition watches to notice a dead holder. */
  get _owner(): { state: SharedState; offset: number; index: number } {
    return { state: this.#state, offset: this.#offset, index: this.#owner };
  }

  [toHandle](): HandleData {
    const kind = Kind[this.#state.kind];
    if (this.#embedded) return { kind: this.#reentrant ? 'RLock' : 'Lock', in: kind, base: this.#base, ...handleOf(this.#state) };
    return { kind, ...handleOf(this.#state) };
  }

  #reentered(): boolean {
    if (!this.#reentrant || !this._isMine()) return false;
    this.#i32[this.#count] += 1;
    return true;
  }

  #tryTake(me: number): boolean {
    if (Atomics.compareExchange(this.#i32, this.#owner, 0, me) !== 0) return false;
    this.#i32[this.#stamp] = threadStamp(); // plain: see release()
    this.#i32[this.#count] = 1;
    this.#ownerDied = false;
    return true;
  }

  /** @internal a Condition took the lock over from a dead holder for us. */
  _tookOver(deadOwner: number): void {
    this.#took(true, deadOwner);
  }

  #took(ownerDied: boolean, deadOwner: number): boolean {
    this.#i32[this.#count] = 1;
    this.#ownerDied = ownerDied;
    if (ownerDied) {
      getLogger().warn(
        `${this.constructor.name} ${this.#state.userName ?? this.#state.name}: ` +
          `its holder${deadOwner ? ` (thread ${deadOwner})` : ''} died while holding it; the lock was taken over`,
      );
    }
    return true;
  }

  [inspect.custom](depth: number, options: { stylize: (s: string, style: string) => string }): string {
    const owner = Atomics.load(this.#i32, this.#owner);
    const state = owner === 0 ? 'unlocked' : this._isMine() ? `locked by this thread` : `locked by thread ${owner}`;
    const name = this.#state.userName !== undefined ? ` ${JSON.stringify(this.#state.userName)}` : '';
    const depthText = this.#reentrant && owner !== 0 ? ` (depth ${this.#i32[this.#count]})` : '';
    void depth;
    return `${this.constructor.name}${name} { ${options.stylize(state, 'special')}${depthText}${this.#ownerDied ? ', ownerDied' : ''} }`;
  }
}

/** Mutual exclusion across threads and processes; any thread may release it. */
export class Lock extends LockBase {
  constructor(options?: LockOptions) {
    super(Kind.Lock, options);
  }

  get [Symbol.toStringTag](): string {
    return 'Lock';
  }
}

/** A re-entrant lock: the owning thread may acquire it again; only the owner releases it. */
export class RLock extends LockBase {
  constructor(options?: LockOptions) {
    super(Kind.RLock, options);
  }

  get [Symbol.toStringTag](): string {
    return 'RLock';
  }

  /** @internal an RLock living at word `base` of another object's state (Value, SharedArray). */
  static _embedded(state: SharedState, base: number): RLock {
    return revived.give({ state, base, embedded: true }, () => new RLock());
  }
}

function reopen<T extends LockBase>(Type: new () => T, data: HandleData, kind: Kind): T {
  if (typeof data.in === 'string') {
    // An RLock embedded in a Value or SharedArray: open that object's segment.
    const host = Kind[data.in as keyof typeof Kind];
    const found: object = reviveShared<object>(data, host, (state) => {
      return revived.give({ state, base: Number(data.base), embedded: true }, () => new Type());
    });
    // This thread has the Value open already: its lock is the one.
    return found instanceof LockBase ? (found as T) : (found as { getLock(): T }).getLock();
  }
  return reviveShared(
    data,
    kind,
    (state) => {
      return revived.give({ state, base: 0, embedded: false }, () => new Type());
    },
    LOCK.words,
  );
}

registerHandleKind('Lock', (data) => reopen(Lock, data, Kind.Lock));
registerHandleKind('RLock', (data) => reopen(RLock, data, Kind.RLock));

export type AnyLock = Lock | RLock;
