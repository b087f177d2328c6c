// Proxies of a manager's objects: DictProxy reads like a Map, ListProxy
// like an array, a Namespace is a plain-looking object. Each method has an
// async form and a Sync form (which blocks this thread for the answer).
//
// Values read through a proxy are copies: mutating one does not reach the
// manager (Python's documented gotcha). Outside production (NODE_ENV is not
// 'production') they are frozen, so that the mistake throws where it is made
// instead of losing the update silently.
import { inspect, type InspectOptionsStylized } from 'node:util';
import { describe, isIterable } from '../base/validate';
import { noteTicket, toHandle, type HandleData, type Shareable } from '../share/handles';
import { state } from '../base/identity';
import { Op, type Connection, type RemoteWhere } from './protocol';
import { PROXY_KIND, type ProxyHandle } from './refs';
import { RESERVED } from './types';

const freezeReads = process.env.NODE_ENV !== 'production';

function deepFreeze<T>(value: T, depth = 0): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || depth > 64) return value;
  if (ArrayBuffer.isView(value) || (value as Partial<Shareable>)[toHandle] !== undefined) return value;
  Object.freeze(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, depth + 1);
      deepFreeze(v, depth + 1);
    }
  } else if (value instanceof Set) for (const v of value) deepFreeze(v, depth + 1);
  else for (const v of Object.values(value)) deepFreeze(v, depth + 1);
  return value;
}

export const read = <T>(value: T): T => (freezeReads ? deepFreeze(value) : value);

// A proxy dropped (collected): the server may free the object once no process holds one.
const dropped = new FinalizationRegistry<{ client: Connection; id: number }>(({ client, id }) => client.released(id));

const ref = Symbol('multiproc.managerRef');

/** What every proxy is over: its connection, the object's id and type. */
export interface Ref {
  client: Connection;
  id: number;
  typeid: string;
  /** A registered type's exposed methods. */
  methods?: readonly string[];
}

export function refOf(proxy: object): Ref | undefined {
  return (proxy as { [ref]?: Ref })[ref];
}

// Where a remote manager is, for a proxy's handle. Its authkey goes only to a
// child being started (as CPython pickles a proxy's authkey only then): a proxy
// stored in a queue or another manager's dict does not hand the key to
// whoever reads it; its receiver uses its own process authkey.
function remoteWhere(where: RemoteWhere): RemoteWhere {
  return state.spawning ? where : { ...where, authkey: undefined };
}

function handleOf(r: Ref): HandleData {
  // Counted in flight from now until the receiver adopts it, so the server
  // keeps the object meanwhile; if the bytes are not sent after all (a full
  // queue, a clone error), no longer.
  r.client.tell(Op.Send, [r.id]);
  noteTicket({ drop: () => r.client.tell(Op.Unsend, [r.id]), assign: () => {} });
  const local = r.client.local();
  const data: ProxyHandle = {
    kind: PROXY_KIND,
    server: r.client.key,
    ...(local ? { requests: local.requests[toHandle](), process: local.process } : { remote: remoteWhere(r.client.remote!) }),
    id: r.id,
    typeid: r.typeid,
    inFlight: true,
    ...(r.methods ? { methods: [...r.methods] } : {}),
  };
  return data;
}

export class BaseProxy implements Shareable {
  readonly [ref]: Ref;

  constructor(r: Ref) {
    this[ref] = r;
    dropped.register(this, { client: r.client, id: r.id });
  }

  /** @internal */
  _call(method: string, args: unknown[]): Promise<unknown> {
    const r = this[ref];
    return r.client.call(Op.Call, r.id, method, args);
  }

  /** @internal */
  _callSync(method: string, args: unknown[]): unknown {
    const r = this[ref];
    return r.client.callSync(Op.Call, r.id, method, args);
  }

  [toHandle](): HandleData {
    const r = this[ref];
    return handleOf(r);
  }

  get [Symbol.toStringTag](): string {
    return `${this.constructor.name} #${this[ref].id}`;
  }

  [inspect.custom](): string {
    return `${this.constructor.name} #${this[ref].id} (manager pid ${this[ref].client.serverPid})`;
  }
}

// Methods whose results are values the object holds (frozen copies outside
// production), or snapshots of its contents (the caller's own to sort or
// change; what they hold is frozen).
const READS = new Set(['get', 'pop', 'shift', 'setDefault']);
const SNAPSHOTS = new Set(['keys', 'values', 'entries', 'toMap', 'toObject', 'slice', 'toArray', 'splice']);

function snapshot<T>(value: T): T {
  if (!freezeReads || typeof value !== 'object' || value === null) return value;
  if (value instanceof Map) for (const v of value.values()) deepFreeze(v);
  else for (const v of Object.values(value)) deepFreeze(v);
  return value;
}

export function install(cls: { prototype: object }, methods: readonly string[]): void {
  for (const name of methods) {
    const reads = READS.has(name) ? read : SNAPSHOTS.has(name) ? snapshot : undefined;
    Object.defineProperty(cls.prototype, name, {
      value: async function (this: BaseProxy, ...args: unknown[]) {
        const v = await this._call(name, args);
        return reads ? reads(v) : v;
      },
      writable: true,
      configurable: true,
    });
    Object.defineProperty(cls.prototype, `${name}Sync`, {
      value: function (this: BaseProxy, ...args: unknown[]) {
        const v = this._callSync(name, args);
        return reads ? reads(v) : v;
      },
      writable: true,
      configurable: true,
    });
  }
}

type Async<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

interface DictMethods<K, V> {
  /** The value of `key` (a copy), or `dflt`. */
  get(key: K, dflt?: V): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): boolean;
  keys(): K[];
  values(): V[];
  entries(): [K, V][];
  size(): number;
  clear(): void;
  /** Removes `key` and returns its value (or `dflt`). */
  pop(key: K, dflt?: V): V | undefined;
  /** The value of `key`, set to `value` first if absent (atomic). */
  setDefault(key: K, value: V): V;
  /** Adds `by` (default 1) to the number at `key` (absent: 0) and returns the sum (atomic). */
  increment(key: K, by?: number | bigint): V;
  /** Sets several keys at once (Python's update). */
  assign(entries: Iterable<[K, V]> | Record<string, V>): void;
  /** A copy of the whole dict. */
  toMap(): Map<K, V>;
  toObject(): Record<string, V>;
}

export type WithSync<M> = { [P in keyof M]: Async<M[P]> } & { [P in keyof M as `${P & string}Sync`]: M[P] };

// Its methods are installed on the prototype (install()): the interface declares them.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DictProxy<K = unknown, V = unknown> extends WithSync<DictMethods<K, V>> {}

/** A dict held by a manager: a Map whose methods are async (and Sync). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DictProxy<K = unknown, V = unknown> extends BaseProxy implements AsyncIterable<[K, V]> {
  /** The entries at one instant. */
  async *[Symbol.asyncIterator](): AsyncIterator<[K, V]> {
    yield* await this.entries();
  }
}
install(DictProxy, [
  'get',
  'set',
  'has',
  'delete',
  'keys',
  'values',
  'entries',
  'size',
  'clear',
  'pop',
  'setDefault',
  'increment',
  'toMap',
  'toObject',
]);
const assignArgs = (entries: unknown): [unknown, unknown][] => {
  if (entries instanceof Map || Array.isArray(entries)) return [...(entries as Iterable<[unknown, unknown]>)];
  if (isIterable(entries)) return [...(entries as Iterable<[unknown, unknown]>)];
  if (typeof entries === 'object' && entries !== null) return Object.entries(entries);
  throw new TypeError(`DictProxy.assign: entries must be a Map, pairs or an object, got ${describe(entries)}`);
};
Object.assign(DictProxy.prototype, {
  assign(this: BaseProxy, entries: unknown) {
    return this._call('assign', [assignArgs(entries)]);
  },
  assignSync(this: BaseProxy, entries: unknown) {
    return this._callSync('assign', [assignArgs(entries)]);
  },
});

interface ListMethods<T> {
  /** The item at `index` (negative: from the end), a copy. */
  get(index: number): T;
  set(index: number, value: T): void;
  /** Appends; the new length. */
  push(...items: T[]): number;
  pop(): T | undefined;
  shift(): T | undefined;
  unshift(...items: T[]): number;
  length(): number;
  slice(start?: number, end?: number): T[];
  splice(start?: number, deleteCount?: number, ...items: T[]): T[];
  indexOf(value: T): number;
  includes(value: T): boolean;
  clear(): void;
  /** Adds `by` (default 1) to the number at `index` and returns the sum (atomic). */
  increment(index: number, by?: number | bigint): T;
  /** A copy of the whole list. */
  toArray(): T[];
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ListProxy<T = unknown> extends WithSync<ListMethods<T>> {}

/** A list held by a manager: an array whose methods are async (and Sync). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ListProxy<T = unknown> extends BaseProxy implements AsyncIterable<T> {
  /** The items at one instant. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* await this.toArray();
  }
}
install(ListProxy, [
  'get',
  'set',
  'push',
  'pop',
  'shift',
  'unshift',
  'length',
  'slice',
  'splice',
  'indexOf',
  'includes',
  'clear',
  'increment',
  'toArray',
]);

/** A namespace held by a manager, read and written with plain property access (blocking calls). */
export type NamespaceProxy = Record<string, unknown>;

// Keys a namespace answers itself: what JS asks of any object (await, inspection, JSON).
const LOCAL_KEYS: ReadonlySet<PropertyKey> = RESERVED;

export function makeNamespace(r: Ref): NamespaceProxy {
  const target = Object.create(null) as Record<PropertyKey, unknown>;
  const call = (method: string, args: unknown[]): unknown => r.client.callSync(Op.Call, r.id, method, args);
  const reserved = (key: string): TypeError =>
    new TypeError(`a Namespace answers ${JSON.stringify(key)} itself (await, JSON, inspection): use another attribute name`);
  const show = (_depth: number, options: InspectOptionsStylized): string => `Namespace ${inspect(call('toObject', []), options)}`;
  target[inspect.custom] = show;
  const ns = new Proxy(target, {
    get(_t, key) {
      if (key === ref) return r;
      if (key === inspect.custom) return show;
      if (key === toHandle) return () => handleOf(r);
      if (key === Symbol.toStringTag) return 'Namespace';
      if (typeof key === 'symbol' || LOCAL_KEYS.has(key)) return undefined;
      return read(call('get', [key]));
    },
    set(_t, key, value) {
      if (typeof key === 'symbol') throw new TypeError('a Namespace takes string keys only');
      if (LOCAL_KEYS.has(key)) throw reserved(key);
      call('set', [key, value]);
      return true;
    },
    has(_t, key) {
      if (key === ref || key === toHandle) return true;
      return typeof key === 'string' && !LOCAL_KEYS.has(key) && (call('has', [key]) as boolean);
    },
    deleteProperty(_t, key) {
      if (typeof key === 'symbol') return true;
      if (LOCAL_KEYS.has(key)) throw reserved(key);
      call('delete', [key]);
      return true;
    },
    ownKeys() {
      return call('keys', []) as string[];
    },
    getOwnPropertyDescriptor(_t, key) {
      if (typeof key === 'symbol' || LOCAL_KEYS.has(key) || !(call('has', [key]) as boolean)) return undefined;
      return { value: read(call('get', [key])), writable: true, enumerable: true, configurable: true };
    },
    defineProperty() {
      throw new TypeError('define a Namespace attribute by assigning it (ns.x = 1)');
    },
    setPrototypeOf() {
      return false;
    },
  });
  dropped.register(ns, { client: r.client, id: r.id });
  return ns;
}

/**
 * A proxy of an object of a registered class: its exposed methods, each
 * async and Sync (`counter.add(1)`, `counter.addSync(1)`), and `call(method,
 * ...args)` / `callSync` for any of them by name.
 */
export class RegisteredProxy extends BaseProxy {
  /** Calls an exposed method by name. */
  call(method: string, ...args: unknown[]): Promise<unknown> {
    return this._call(method, args);
  }

  callSync(method: string, ...args: unknown[]): unknown {
    return this._callSync(method, args);
  }

  override [inspect.custom](): string {
    return `${this[ref].typeid} proxy #${this[ref].id} (manager pid ${this[ref].client.serverPid})`;
  }
}

const registeredClasses = new Map<string, typeof RegisteredProxy>();

export function registeredClass(methods: readonly string[]): typeof RegisteredProxy {
  const key = methods.join('\0');
  let cls = registeredClasses.get(key);
  if (!cls) {
    cls = class extends RegisteredProxy {};
    // Its own methods first: names the proxy answers itself (call, callSync) are reached through call().
    install(
      cls,
      methods.filter((m) => !(m in RegisteredProxy.prototype) && !m.endsWith('Sync')),
    );
    registeredClasses.set(key, cls);
  }
  return cls;
}

/**
 * A namespace of a remote manager: its calls travel over a socket, so it has
 * no plain property access (which would have to block); read and write it
 * with `await ns.get('x')`, `await ns.set('x', 1)`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class AsyncNamespaceProxy extends BaseProxy {}
interface NamespaceMethods {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  has(name: string): boolean;
  delete(name: string): boolean;
  keys(): string[];
  /** Adds `by` (default 1) to the number `name` holds (absent: 0); the sum (atomic). */
  increment(name: string, by?: number | bigint): number | bigint;
  toObject(): Record<string, unknown>;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AsyncNamespaceProxy extends WithSync<NamespaceMethods> {}
install(AsyncNamespaceProxy, ['get', 'set', 'has', 'delete', 'keys', 'increment', 'toObject']);
