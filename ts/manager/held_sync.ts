// The manager-held queues, locks and the like (CPython's SyncManager.Queue,
// Lock, Event ...): for processes that cannot share memory with each other
// (a client of a remote manager on another host). Each is an ordinary JS
// object in the server; a method that would block (a get on an empty queue,
// an acquire of a held lock) returns a promise the server answers when it
// settles, and other requests go on meanwhile.
//
// Better than CPython where a process dies: a client that is gone (its
// thread exited, its connection closed) has its waits dropped (an item is
// never handed to a dead getter), the locks it held released, and a barrier
// it was waiting at broken (the others would wait for ever).
import { BrokenBarrierError, Empty, Full } from '../base/errors';
import { describe } from '../base/validate';
import { fromStored, toStored, typeInfo, type TypeInfo, type TypedArray } from '../values/typecodes';
import type { CallContext, TypeSpec } from './types';

/** A wait's timeout on the wire: milliseconds, null for ever (0: do not wait). */
type Timeout = number | null;

// setTimeout's longest delay (~24.8 days): a longer timeout waits for ever (a timer would fire at once).
const MAX_TIMER_MS = 0x7fffffff;

function timeoutOf(t: unknown, what: string): number {
  if (t === null || t === undefined) return Infinity;
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0)
    throw new TypeError(`${what}: the timeout must be a number of ms >= 0, got ${describe(t)}`);
  return t > MAX_TIMER_MS ? Infinity : t;
}

interface Entry<T> {
  client: number;
  resolve(value: T): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** What the entry carries (a put's item). */
  item?: unknown;
}

/** Waiting callers, first come first served. */
class WaitList<T> {
  #list: Entry<T>[] = [];

  get size(): number {
    return this.#list.length;
  }

  /** Waits (at most `ms`): onTimeout gives what the wait then resolves with (or throws). */
  add(client: number, ms: number, onTimeout: () => T, item?: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry<T> = { client, resolve, reject, timer: undefined, item };
      if (ms !== Infinity) {
        entry.timer = setTimeout(() => {
          this.#remove(entry);
          try {
            resolve(onTimeout());
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        }, ms);
      }
      this.#list.push(entry);
    });
  }

  #remove(entry: Entry<T>): void {
    const at = this.#list.indexOf(entry);
    if (at >= 0) this.#list.splice(at, 1);
  }

  /** The first waiter whose client can still take an answer (taken off the list, its timer stopped). */
  next(ctx: CallContext): Entry<T> | undefined {
    for (;;) {
      const entry = this.#list.shift();
      if (!entry) return undefined;
      clearTimeout(entry.timer);
      if (ctx.alive(entry.client)) return entry;
    }
  }

  /** Every waiter, taken off the list. */
  all(): Entry<T>[] {
    const list = this.#list;
    this.#list = [];
    for (const e of list) clearTimeout(e.timer);
    return list;
  }

  /** Drops the waits of `client` (gone: nothing is answered to it); whether it had some. */
  forget(client: number): boolean {
    const before = this.#list.length;
    this.#list = this.#list.filter((e) => {
      if (e.client !== client) return true;
      clearTimeout(e.timer);
      return false;
    });
    return this.#list.length !== before;
  }
}

// ---------------------------------------------------------------- Queue

class HeldQueue {
  #items: unknown[] = [];
  #head = 0;
  readonly maxsize: number;
  readonly getters = new WaitList<unknown>();
  readonly putters = new WaitList<void>();
  /** JoinableQueue: items put and not yet marked done. */
  unfinished = 0;
  readonly joiners = new WaitList<boolean>();

  constructor(
    maxsize: unknown,
    readonly joinable: boolean,
  ) {
    const n = maxsize ?? 0;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new TypeError(`${joinable ? 'JoinableQueue' : 'Queue'}(): maxsize must be an integer >= 0 (0: no bound), got ${describe(n)}`);
    this.maxsize = n;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  #push(item: unknown): void {
    this.#items.push(item);
  }

  #shift(): unknown {
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  // An item counts as unfinished (JoinableQueue) once it is in the queue or with a getter, not while its put waits.
  #counted(): void {
    if (this.joinable) this.unfinished++;
  }

  put(ctx: CallContext, item: unknown, timeout: Timeout): Promise<void> | void {
    const ms = timeoutOf(timeout, 'QueueProxy.put');
    // A getter waits only while the queue is empty: hand it the item.
    const getter = this.size === 0 ? this.getters.next(ctx) : undefined;
    if (getter) {
      this.#counted();
      return getter.resolve(item);
    }
    if (this.maxsize === 0 || this.size < this.maxsize) {
      this.#counted();
      return this.#push(item);
    }
    if (ms === 0) throw new Full();
    return this.putters.add(
      ctx.client,
      ms,
      () => {
        throw new Full();
      },
      item,
    );
  }

  /** An item taken by a get whose caller could not be answered: first in the queue again. */
  giveBack(ctx: CallContext, item: unknown): void {
    const getter = this.getters.next(ctx);
    if (getter) return getter.resolve(item);
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  get(ctx: CallContext, timeout: Timeout): unknown {
    const ms = timeoutOf(timeout, 'QueueProxy.get');
    if (this.size > 0) {
      const item = this.#shift();
      const putter = this.putters.next(ctx);
      if (putter) {
        this.#counted();
        this.#push(putter.item);
        putter.resolve();
      }
      return item;
    }
    if (ms === 0) throw new Empty();
    return this.getters.add(ctx.client, ms, () => {
      throw new Empty();
    });
  }

  taskDone(): void {
    if (this.unfinished <= 0) throw new Error('taskDone() called more times than there were items put');
    if (--this.unfinished === 0) for (const j of this.joiners.all()) j.resolve(true);
  }

  join(ctx: CallContext, timeout: Timeout): boolean | Promise<boolean> {
    const ms = timeoutOf(timeout, 'JoinableQueueProxy.join');
    if (this.unfinished === 0) return true;
    if (ms === 0) return false;
    return this.joiners.add(ctx.client, ms, () => false);
  }

  forget(client: number): void {
    this.getters.forget(client);
    this.putters.forget(client); // a put that never completed: its item is not in the queue, nor counted
    this.joiners.forget(client);
  }
}

const queueMethods = {
  put: function (this: CallContext, q: HeldQueue, item: unknown, timeout: Timeout) {
    return q.put(this, item, timeout);
  },
  get: function (this: CallContext, q: HeldQueue, timeout: Timeout) {
    return q.get(this, timeout);
  },
  qsize: (q: HeldQueue) => q.size,
  empty: (q: HeldQueue) => q.size === 0,
  full: (q: HeldQueue) => q.maxsize > 0 && q.size >= q.maxsize,
};

const queue: TypeSpec = {
  make: (init) => new HeldQueue(init, false),
  methods: queueMethods,
  forget: (q: HeldQueue, client) => q.forget(client),
  undelivered: function (this: CallContext, q: HeldQueue, method: string, item: unknown) {
    if (method === 'get') q.giveBack(this, item);
  },
};

const joinableQueue: TypeSpec = {
  make: (init) => new HeldQueue(init, true),
  methods: {
    ...queueMethods,
    taskDone: (q: HeldQueue) => q.taskDone(),
    join: function (this: CallContext, q: HeldQueue, timeout: Timeout) {
      return q.join(this, timeout);
    },
    unfinished: (q: HeldQueue) => q.unfinished,
  },
  forget: (q: HeldQueue, client) => q.forget(client),
  undelivered: function (this: CallContext, q: HeldQueue, method: string, item: unknown) {
    if (method === 'get') q.giveBack(this, item);
  },
};

// ---------------------------------------------------------------- Lock, RLock

/** A lock owned by a client; reentrant: an RLock. */
export class HeldLock {
  owner: number | null = null;
  count = 0;
  readonly waiters = new WaitList<boolean>();

  constructor(readonly reentrant: boolean) {}

  acquire(ctx: CallContext, timeout: Timeout): boolean | Promise<boolean> {
    const ms = timeoutOf(timeout, `${this.#name}.acquire`);
    if (this.owner === null) {
      this.owner = ctx.client;
      this.count = 1;
      return true;
    }
    if (this.reentrant && this.owner === ctx.client) {
      this.count++;
      return true;
    }
    if (ms === 0) return false;
    return this.waiters.add(ctx.client, ms, () => false);
  }

  get #name(): string {
    return this.reentrant ? 'RLockProxy' : 'LockProxy';
  }

  release(ctx: CallContext): void {
    if (this.owner === null) throw new Error(`release() called on an unlocked ${this.reentrant ? 'RLock' : 'Lock'}`);
    // As threading.Lock: any client may release a Lock; an RLock only its owner.
    if (this.reentrant && this.owner !== ctx.client) throw new Error('cannot release an RLock held by another client');
    if (--this.count === 0) this.#handOn(ctx);
  }

  /** Gives the lock to the next waiter (or nobody). */
  #handOn(ctx: CallContext): void {
    this.owner = null;
    this.count = 0;
    const next = this.waiters.next(ctx);
    if (next) {
      this.owner = next.client;
      this.count = 1;
      next.resolve(true);
    }
  }

  /** Takes the lock for `client` `count` times (Condition.wait re-acquiring), waiting as long as it takes. */
  async reacquire(ctx: CallContext, count: number): Promise<void> {
    if (!ctx.alive(ctx.client)) return; // gone while it waited: it takes nothing
    if (this.owner === null) this.owner = ctx.client;
    else await this.waiters.add(ctx.client, Infinity, () => true);
    this.count = count;
  }

  /** Whether `client` holds it (a plain Lock: whoever acquired it). */
  heldBy(client: number): boolean {
    return this.owner === client;
  }

  forget(ctx: CallContext, client: number): void {
    this.waiters.forget(client);
    if (this.owner === client) this.#handOn(ctx);
  }
}

const lockMethods = {
  acquire: function (this: CallContext, l: HeldLock, timeout: Timeout) {
    return l.acquire(this, timeout);
  },
  release: function (this: CallContext, l: HeldLock) {
    l.release(this);
  },
  locked: (l: HeldLock) => l.owner !== null,
};

const lock = (reentrant: boolean): TypeSpec => ({
  make: () => new HeldLock(reentrant),
  methods: lockMethods,
  forget: function (this: CallContext, l: HeldLock, client: number) {
    l.forget(this, client);
  },
});

// ---------------------------------------------------------------- Semaphore

class HeldSemaphore {
  value: number;
  readonly waiters = new WaitList<boolean>();

  constructor(init: unknown) {
    const v = init ?? 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new TypeError(`Semaphore(): value must be an integer >= 0, got ${describe(v)}`);
    this.value = v;
  }
}

const semaphore: TypeSpec = {
  make: (init) => new HeldSemaphore(init),
  methods: {
    acquire: function (this: CallContext, s: HeldSemaphore, timeout: Timeout) {
      const ms = timeoutOf(timeout, 'SemaphoreProxy.acquire');
      if (s.value > 0) {
        s.value--;
        return true;
      }
      if (ms === 0) return false;
      return s.waiters.add(this.client, ms, () => false);
    },
    release: function (this: CallContext, s: HeldSemaphore, n: unknown = 1) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new TypeError(`SemaphoreProxy.release: n must be an integer >= 1, got ${describe(n)}`);
      s.value += n;
      while (s.value > 0) {
        const next = s.waiters.next(this);
        if (!next) break;
        s.value--;
        next.resolve(true);
      }
    },
    getValue: (s: HeldSemaphore) => s.value,
  },
  forget: (s: HeldSemaphore, client) => void s.waiters.forget(client),
};

// ---------------------------------------------------------------- Event

class HeldEvent {
  flag = false;
  readonly waiters = new WaitList<boolean>();
}

const event: TypeSpec = {
  make: () => new HeldEvent(),
  methods: {
    set: (e: HeldEvent) => {
      e.flag = true;
      for (const w of e.waiters.all()) w.resolve(true);
    },
    clear: (e: HeldEvent) => void (e.flag = false),
    isSet: (e: HeldEvent) => e.flag,
    wait: function (this: CallContext, e: HeldEvent, timeout: Timeout) {
      const ms = timeoutOf(timeout, 'EventProxy.wait');
      if (e.flag) return true;
      if (ms === 0) return false;
      return e.waiters.add(this.client, ms, () => false);
    },
  },
  forget: (e: HeldEvent, client) => void e.waiters.forget(client),
};

// ---------------------------------------------------------------- Condition

class HeldCondition {
  readonly waiters = new WaitList<true>();
  constructor(readonly lock: HeldLock) {}

  #owned(ctx: CallContext, what: string): void {
    if (!this.lock.heldBy(ctx.client)) throw new Error(`ConditionProxy.${what}: the lock is not acquired by this client`);
  }

  async wait(ctx: CallContext, timeout: Timeout): Promise<boolean> {
    const ms = timeoutOf(timeout, 'ConditionProxy.wait');
    this.#owned(ctx, 'wait');
    const count = this.lock.count;
    this.lock.count = 1;
    this.lock.release(ctx);
    let notified = false;
    try {
      notified = await this.waiters.add(ctx.client, ms, () => false as true);
    } finally {
      await this.lock.reacquire(ctx, count);
    }
    return notified;
  }

  notify(ctx: CallContext, n: unknown): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new TypeError(`ConditionProxy.notify: n must be an integer >= 0, got ${describe(n)}`);
    this.#owned(ctx, 'notify');
    for (let i = 0; i < n; i++) {
      const next = this.waiters.next(ctx);
      if (!next) break;
      next.resolve(true);
    }
  }

  notifyAll(ctx: CallContext): void {
    this.#owned(ctx, 'notifyAll');
    for (const w of this.waiters.all()) if (ctx.alive(w.client)) w.resolve(true);
  }
}

const condition: TypeSpec = {
  make(init, deref) {
    if (init === undefined || init === null) return new HeldCondition(new HeldLock(true));
    const l = deref(init);
    if (!(l instanceof HeldLock)) throw new TypeError(`Condition(): lock must be a Lock or RLock of this manager, got ${describe(init)}`);
    return new HeldCondition(l);
  },
  methods: {
    acquire: function (this: CallContext, c: HeldCondition, timeout: Timeout) {
      return c.lock.acquire(this, timeout);
    },
    release: function (this: CallContext, c: HeldCondition) {
      c.lock.release(this);
    },
    wait: function (this: CallContext, c: HeldCondition, timeout: Timeout) {
      return c.wait(this, timeout);
    },
    notify: function (this: CallContext, c: HeldCondition, n: unknown = 1) {
      c.notify(this, n);
    },
    notifyAll: function (this: CallContext, c: HeldCondition) {
      c.notifyAll(this);
    },
  },
  forget: function (this: CallContext, c: HeldCondition, client: number) {
    c.waiters.forget(client);
    c.lock.forget(this, client);
  },
};

// ---------------------------------------------------------------- Barrier

class HeldBarrier {
  readonly parties: number;
  broken = false;
  #waiting = new WaitList<number>();
  #arrived = 0;

  constructor(init: unknown) {
    if (typeof init !== 'number' || !Number.isInteger(init) || init < 1)
      throw new TypeError(`Barrier(): parties must be an integer >= 1, got ${describe(init)}`);
    this.parties = init;
  }

  get nWaiting(): number {
    return this.#waiting.size;
  }

  wait(ctx: CallContext, timeout: Timeout): number | Promise<number> {
    const ms = timeoutOf(timeout, 'BarrierProxy.wait');
    if (this.broken) throw new BrokenBarrierError('the barrier is broken');
    const index = this.#arrived++;
    if (index === this.parties - 1) {
      // The last one: everybody passes, and the barrier is ready for the next round.
      let i = 0;
      for (const w of this.#waiting.all()) w.resolve(i++);
      this.#arrived = 0;
      return index;
    }
    return this.#waiting.add(ctx.client, ms, () => {
      this.break();
      throw new BrokenBarrierError('the barrier was broken: a wait timed out');
    });
  }

  break(why = 'the barrier was broken'): void {
    this.broken = true;
    this.#arrived = 0;
    for (const w of this.#waiting.all()) w.reject(new BrokenBarrierError(why));
  }

  reset(): void {
    this.break('the barrier was reset');
    this.broken = false;
  }

  forget(client: number): void {
    if (this.#waiting.forget(client)) this.break('the barrier was broken: a client waiting at it is gone');
  }
}

const barrier: TypeSpec = {
  make: (init) => new HeldBarrier(init),
  methods: {
    wait: function (this: CallContext, b: HeldBarrier, timeout: Timeout) {
      return b.wait(this, timeout);
    },
    abort: (b: HeldBarrier) => b.break('the barrier was aborted'),
    reset: (b: HeldBarrier) => b.reset(),
    parties: (b: HeldBarrier) => b.parties,
    nWaiting: (b: HeldBarrier) => b.nWaiting,
    broken: (b: HeldBarrier) => b.broken,
  },
  forget: (b: HeldBarrier, client) => b.forget(client),
};

// ---------------------------------------------------------------- Value, Array

class HeldArray {
  readonly info: TypeInfo;
  readonly items: TypedArray;

  constructor(typecode: unknown, init: unknown, what: string) {
    this.info = typeInfo(typecode);
    if (typeof init === 'number') {
      if (!Number.isInteger(init) || init < 0) throw new TypeError(`${what}: a length must be an integer >= 0, got ${init}`);
      this.items = new this.info.array(init);
    } else if (Array.isArray(init) || typeof init === 'string') {
      const values = [...(init as ArrayLike<unknown> & Iterable<unknown>)];
      this.items = new this.info.array(values.length);
      values.forEach((v, i) => (this.items[i] = toStored(this.info, v, `${what}[${i}]`)));
    } else throw new TypeError(`${what}: give a length or an array of values, got ${describe(init)}`);
  }

  index(i: unknown, what: string): number {
    const n = this.items.length;
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`${what}: the index must be an integer, got ${describe(i)}`);
    const at = i < 0 ? n + i : i;
    if (at < 0 || at >= n) throw new RangeError(`${what}: index ${i} is out of range for an array of ${n}`);
    return at;
  }

  read(at: number): unknown {
    return fromStored(this.info, this.items[at]);
  }

  write(at: number, v: unknown, what: string): void {
    this.items[at] = toStored(this.info, v, what);
  }

  add(at: number, by: unknown, what: string): unknown {
    if (this.info.char) throw new TypeError(`${what}: a 'c' (char) value cannot be incremented`);
    const amount = toStored(this.info, by, what);
    (this.items as unknown as (number | bigint)[])[at] = (this.items[at] as number) + (amount as number);
    return this.read(at);
  }
}

const value: TypeSpec = {
  make(init) {
    const [typecode, v] = Array.isArray(init) ? (init as unknown[]) : [];
    const held = new HeldArray(typecode, [v ?? (typeInfo(typecode).bigint ? 0n : typeInfo(typecode).char ? '\0' : 0)], 'Value()');
    return held;
  },
  methods: {
    get: (a: HeldArray) => a.read(0),
    set: (a: HeldArray, v: unknown) => a.write(0, v, 'ValueProxy.set'),
    increment: (a: HeldArray, by: unknown = 1) => a.add(0, by, 'ValueProxy.increment'),
  },
};

const array: TypeSpec = {
  make(init) {
    const [typecode, items] = Array.isArray(init) ? (init as unknown[]) : [];
    return new HeldArray(typecode, items, 'Array()');
  },
  methods: {
    get: (a: HeldArray, i: unknown) => a.read(a.index(i, 'ArrayProxy.get')),
    set: (a: HeldArray, i: unknown, v: unknown) => a.write(a.index(i, 'ArrayProxy.set'), v, 'ArrayProxy.set'),
    increment: (a: HeldArray, i: unknown, by: unknown = 1) => a.add(a.index(i, 'ArrayProxy.increment'), by, 'ArrayProxy.increment'),
    length: (a: HeldArray) => a.items.length,
    toArray: (a: HeldArray) => Array.from(a.items as ArrayLike<number | bigint>, (v) => fromStored(a.info, v)),
    slice: (a: HeldArray, start?: number, end?: number) =>
      Array.from(a.items.slice(start, end) as ArrayLike<number | bigint>, (v) => fromStored(a.info, v)),
  },
};

/** The manager-held synchronization types and values, by typeid. */
export const HELD_SYNC: Readonly<Record<string, TypeSpec>> = {
  Queue: queue,
  JoinableQueue: joinableQueue,
  Lock: lock(false),
  RLock: lock(true),
  Semaphore: semaphore,
  Event: event,
  Condition: condition,
  Barrier: barrier,
  Value: value,
  Array: array,
};
