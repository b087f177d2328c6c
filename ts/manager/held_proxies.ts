// Proxies of the manager-held queues, locks and values (held_sync.ts): the
// methods of multiproc's own Queue, Lock, Event ..., each async and Sync,
// run in the server. A wait (a get, an acquire) waits there: its timeout
// travels with the call, and the call is answered when it ends.
import { describe } from '../base/validate';
import { BaseProxy, install, type WithSync } from './proxies';

/** A wait's options: a timeout in ms, or `{ block, timeout }` as the local classes take. */
export type WaitArg = number | { block?: boolean; timeout?: number } | undefined;

// The timeout the server is told: ms, null for ever, 0 for no wait.
function timeoutArg(options: unknown, what: string): number | null {
  if (options === undefined || options === null) return null;
  const check = (t: unknown): number | null => {
    if (t === undefined || t === Infinity) return null;
    if (typeof t !== 'number' || Number.isNaN(t) || t < 0)
      throw new TypeError(`${what}: the timeout must be a number of ms >= 0, got ${describe(t)}`);
    return t;
  };
  if (typeof options === 'number') return check(options);
  if (typeof options !== 'object')
    throw new TypeError(`${what}: options must be a timeout in ms or { block, timeout }, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key === 'signal') throw new TypeError(`${what}: a manager's proxies take no signal (the wait runs in the manager): give a timeout`);
    if (key !== 'block' && key !== 'timeout')
      throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (expected block, timeout)`);
  }
  const { block = true, timeout } = options as { block?: unknown; timeout?: unknown };
  if (typeof block !== 'boolean') throw new TypeError(`${what}: options.block must be a boolean, got ${describe(block)}`);
  return block ? check(timeout) : 0;
}

type Args = (...args: unknown[]) => unknown[];

// A method whose arguments are rewritten for the wire (the timeout last), async and Sync.
function define(cls: { prototype: object; name: string }, name: string, args: Args, wire = name): void {
  const what = `${cls.name}.${name}`;
  Object.defineProperty(cls.prototype, name, {
    value: function (this: BaseProxy, ...a: unknown[]) {
      try {
        return this._call(wire, args(what, ...a));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperty(cls.prototype, `${name}Sync`, {
    value: function (this: BaseProxy, ...a: unknown[]) {
      return this._callSync(wire, args(what, ...a));
    },
    writable: true,
    configurable: true,
  });
}

const waitOnly: Args = (what, options) => [timeoutArg(options, what as string)];
const noWait: Args = () => [0];

// ---------------------------------------------------------------- Queue

interface QueueMethods<T> {
  /** Puts an item, waiting for room (maxsize) as long as the options say: Full if there is none. */
  put(item: T, options?: WaitArg): void;
  /** Takes the oldest item, waiting as long as the options say: Empty if none came. */
  get(options?: WaitArg): T;
  putNowait(item: T): void;
  getNowait(): T;
  qsize(): number;
  empty(): boolean;
  full(): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface QueueProxy<T = unknown> extends WithSync<QueueMethods<T>> {}
/** A queue held by a manager (for processes that share no memory: another host). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars
export class QueueProxy<T = unknown> extends BaseProxy {}

function queueMethods(cls: typeof QueueProxy): void {
  define(cls, 'put', (what, item, options) => [item, timeoutArg(options, what as string)]);
  define(cls, 'get', waitOnly);
  define(cls, 'putNowait', (_what, item) => [item, 0], 'put');
  define(cls, 'getNowait', noWait, 'get');
  install(cls, ['qsize', 'empty', 'full']);
}
queueMethods(QueueProxy);

interface JoinableMethods {
  /** One item taken is done with. */
  taskDone(): void;
  /** Resolves true once every item put is done (false after the timeout). */
  join(timeout?: number): boolean;
  /** Items put and not yet done. */
  unfinished(): number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface JoinableQueueProxy<T = unknown> extends WithSync<QueueMethods<T> & JoinableMethods> {}
/** A JoinableQueue held by a manager. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars
export class JoinableQueueProxy<T = unknown> extends BaseProxy {}
queueMethods(JoinableQueueProxy);
install(JoinableQueueProxy, ['taskDone', 'unfinished']);
define(JoinableQueueProxy, 'join', waitOnly);

// ---------------------------------------------------------------- Lock, RLock, Semaphore

interface LockMethods {
  /** true once acquired; false if the options' timeout (or block: false) found it held. */
  acquire(options?: WaitArg): boolean;
  release(): void;
  locked(): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface LockProxy extends WithSync<LockMethods> {}
/**
 * A lock held by a manager. Owned by the client (thread or connection) that
 * acquired it: if that one goes away holding it, the manager releases it.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class LockProxy extends BaseProxy {
  /** acquire(), run fn, release() -- also when fn throws. */
  async withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError('withLock() takes a function');
    await this.acquire();
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}
define(LockProxy, 'acquire', waitOnly);
install(LockProxy, ['release', 'locked']);

/** A reentrant lock held by a manager: its owner may acquire it again, and only its owner releases it. */
export class RLockProxy extends LockProxy {}

interface SemaphoreMethods {
  acquire(options?: WaitArg): boolean;
  release(n?: number): void;
  getValue(): number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface SemaphoreProxy extends WithSync<SemaphoreMethods> {}
/** A semaphore held by a manager. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class SemaphoreProxy extends BaseProxy {}
define(SemaphoreProxy, 'acquire', waitOnly);
install(SemaphoreProxy, ['release', 'getValue']);

// ---------------------------------------------------------------- Event, Condition, Barrier

interface EventMethods {
  set(): void;
  clear(): void;
  isSet(): boolean;
  /** true once set; false after the timeout. */
  wait(timeout?: number): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface EventProxy extends WithSync<EventMethods> {}
/** An event held by a manager. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class EventProxy extends BaseProxy {}
install(EventProxy, ['set', 'clear', 'isSet']);
define(EventProxy, 'wait', waitOnly);

interface ConditionMethods {
  acquire(options?: WaitArg): boolean;
  release(): void;
  /** Releases the lock, waits for a notify (or the timeout: false), re-acquires it. */
  wait(timeout?: number): boolean;
  notify(n?: number): void;
  notifyAll(): void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface ConditionProxy extends WithSync<ConditionMethods> {}
/** A condition variable held by a manager (waitFor takes a function, which cannot travel: loop on wait()). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ConditionProxy extends BaseProxy {}
define(ConditionProxy, 'acquire', waitOnly);
define(ConditionProxy, 'wait', waitOnly);
install(ConditionProxy, ['release', 'notify', 'notifyAll']);

interface BarrierMethods {
  /** Waits for the other parties: this one's index (0 ... parties-1); BrokenBarrierError if it breaks. */
  wait(timeout?: number): number;
  abort(): void;
  reset(): void;
  parties(): number;
  nWaiting(): number;
  broken(): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface BarrierProxy extends WithSync<BarrierMethods> {}
/** A barrier held by a manager: a party that goes away while waiting breaks it (the others would wait for ever). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class BarrierProxy extends BaseProxy {}
define(BarrierProxy, 'wait', waitOnly);
install(BarrierProxy, ['abort', 'reset', 'parties', 'nWaiting', 'broken']);

// ---------------------------------------------------------------- Value, Array

interface ValueMethods<V> {
  get(): V;
  set(value: V): void;
  /** Adds `by` (default 1); the new value (atomic). */
  increment(by?: V): V;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ValueProxy<V = number> extends WithSync<ValueMethods<V>> {}
/** A typed value held by a manager (stored as its typecode says: an int32 wraps, as in a Value). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-unused-vars
export class ValueProxy<V = number> extends BaseProxy {}
install(ValueProxy, ['get', 'set', 'increment']);

interface ArrayMethods<V> {
  get(index: number): V;
  set(index: number, value: V): void;
  /** Adds `by` (default 1) to the item at `index`; its new value (atomic). */
  increment(index: number, by?: V): V;
  length(): number;
  toArray(): V[];
  slice(start?: number, end?: number): V[];
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ArrayProxy<V = number> extends WithSync<ArrayMethods<V>> {}
/** A typed array held by a manager. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ArrayProxy<V = number> extends BaseProxy implements AsyncIterable<V> {
  async *[Symbol.asyncIterator](): AsyncIterator<V> {
    yield* await this.toArray();
  }
}
install(ArrayProxy, ['get', 'set', 'increment', 'length', 'toArray', 'slice']);

/** The proxy classes of the manager-held types, by typeid. */
export const HELD_PROXIES: Readonly<Record<string, new (r: ConstructorParameters<typeof BaseProxy>[0]) => BaseProxy>> = {
  Queue: QueueProxy,
  JoinableQueue: JoinableQueueProxy,
  Lock: LockProxy,
  RLock: RLockProxy,
  Semaphore: SemaphoreProxy,
  Event: EventProxy,
  Condition: ConditionProxy,
  Barrier: BarrierProxy,
  Value: ValueProxy,
  Array: ArrayProxy,
};
