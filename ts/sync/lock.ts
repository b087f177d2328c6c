// Lock and RLock: Python's multiprocessing.Lock / RLock, one shared word each.
//
// The uncontended path is JavaScript: acquire is one compare-and-swap of the
// owner word (0 -> this thread's id) and release one store, on the shared
// memory through V8's Atomics (real atomic instructions, so they exclude
// other processes too). Only a contended acquire calls into the addon, to
// spin and sleep -- and to take over the lock of a holder that died
// (native/core/lock.h): the next acquirer gets a dead holder's lock within
// ~20 ms and finds `ownerDied` true. Python deadlocks there.
import { AsyncLocalStorage } from 'node:async_hooks';
import { addon } from '../addon';
import { getLogger } from '../logging';
import { describe } from '../names';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../handles';
import { wait } from '../wait';
import { Kind, LOCK } from './layout';
import { asyncOptions, deadlineAfter, remaining, syncTimeout, type AsyncOptions, type SyncOptions } from './options';
import { SharedState, remember, reuseOrOpen } from './shared_state';
import { threadId } from './thread';

export interface LockOptions {
  /**
   * Open-or-create a lock any process of this user can open by the same name
   * (cluster workers, separate services). Named locks persist until
   * unlink()ed; unnamed ones are removed when the program ends.
   */
  name?: string;
}

// The RLocks held by the current async context (inside withLock): an async
// acquire() re-enters only there. Ownership is per thread, and two async
// tasks of one thread must still exclude each other.
const heldHere = new AsyncLocalStorage<ReadonlySet<LockBase>>();

/** How long a contended async acquire waits before it checks the holder is alive. */
const LIVENESS_SLICE_MS = 20;

let revived: SharedState | undefined;

abstract class LockBase implements Shareable {
  readonly #state: SharedState;
  readonly #i32: Int32Array;
  readonly #owner: number;
  readonly #count: number;
  readonly #offset: number;
  readonly #reentrant: boolean;
  #ownerDied = false;

  protected constructor(kind: Kind.Lock | Kind.RLock, options: LockOptions | undefined) {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError(`${Kind[kind]} options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options ?? {})) {
      if (key !== 'name') throw new TypeError(`unknown ${Kind[kind]} option ${JSON.stringify(key)}`);
    }
    const state = revived ?? SharedState.createOrOpen(kind, LOCK.words, options?.name, () => {});
    revived = undefined;
    this.#state = state;
    this.#i32 = state.i32;
    this.#owner = state.at(LOCK.owner);
    this.#count = state.at(LOCK.count);
    this.#offset = state.offset(LOCK.owner);
    this.#reentrant = kind === Kind.RLock;
    remember(state, this);
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
  acquireSync(options?: SyncOptions): boolean {
    const timeout = syncTimeout(options, 'acquireSync');
    const me = threadId();
    if (this.#reentered(me) || this.#tryTake(me)) return true;
    if (timeout === 0) {
      // Even a non-blocking attempt must not find a dead holder's lock forever busy.
      const owner = Atomics.load(this.#i32, this.#owner);
      if (owner !== 0 && addon().lockTakeIfOwnerDead(this.#state.segment, this.#offset, owner, me)) return this.#took(true, owner);
      return false;
    }
    const r = addon().lockAcquire(this.#state.segment, this.#offset, me, timeout === Infinity ? undefined : timeout);
    if (r === 2) return false;
    return this.#took(r === 1, 0);
  }

  /**
   * Resolves true once acquired, false on timeout; never blocks the event
   * loop. An RLock re-enters here only inside its own withLock() callback:
   * elsewhere another task of this thread holding it must release it first.
   */
  async acquire(options?: AsyncOptions): Promise<boolean> {
    const { timeout, signal } = asyncOptions(options, 'acquire');
    const me = threadId();
    if ((heldHere.getStore()?.has(this) && this.#reentered(me)) || this.#tryTake(me)) return true;
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
      if (outcome === 'timed-out' && addon().lockTakeIfOwnerDead(this.#state.segment, this.#offset, owner, me)) {
        return this.#took(true, owner);
      }
    }
  }

  release(): void {
    const me = threadId();
    const owner = Atomics.load(this.#i32, this.#owner);
    if (this.#reentrant) {
      if (owner !== me) {
        throw new Error(owner === 0 ? 'cannot release an RLock that is not acquired'
          : `cannot release an RLock held by another thread or process (thread ${owner})`);
      }
      const count = this.#i32[this.#count]! - 1;
      this.#i32[this.#count] = count;
      if (count > 0) return;
    } else if (owner === 0) {
      throw new Error('release() called on an unlocked Lock');
    }
    this.#i32[this.#count] = 0;
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

  /** @internal for Condition: whether this thread holds it. */
  _isMine(): boolean {
    return Atomics.load(this.#i32, this.#owner) === threadId();
  }

  /** @internal for Condition.wait: release completely, returning the depth to restore. */
  _releaseAll(): number {
    const depth = this.#reentrant ? this.#i32[this.#count]! : 1;
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
    return { kind: Kind[this.#state.kind], name: this.#state.name, userName: this.#state.userName };
  }

  #reentered(me: number): boolean {
    if (!this.#reentrant || Atomics.load(this.#i32, this.#owner) !== me) return false;
    this.#i32[this.#count]! += 1;
    return true;
  }

  #tryTake(me: number): boolean {
    if (Atomics.compareExchange(this.#i32, this.#owner, 0, me) !== 0) return false;
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
      getLogger().warn(`${this.constructor.name} ${this.#state.userName ?? this.#state.name}: ` +
        `its holder${deadOwner ? ` (thread ${deadOwner})` : ''} died while holding it; the lock was taken over`);
    }
    return true;
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
}

function reopen<T extends LockBase>(Type: new () => T, data: HandleData, kind: Kind): T {
  return reuseOrOpen(String(data.name), () => {
    revived = SharedState.open(String(data.name), kind, data.userName as string | undefined);
    return new Type();
  });
}

registerHandleKind('Lock', (data) => reopen(Lock, data, Kind.Lock));
registerHandleKind('RLock', (data) => reopen(RLock, data, Kind.RLock));

export type AnyLock = Lock | RLock;
