// The objects a manager's server holds, by type: how each is made from its
// init value and which methods its proxies may call. Every method runs in
// the server, one request at a time, so each is atomic with respect to the
// others (a read-modify-write helper such as increment() is one request).
import { describe } from '../base/validate';

/** Who is calling a method (its `this`): the client, and whether a client can still take an answer. */
export interface CallContext {
  readonly client: number;
  alive(client: number): boolean;
}

// Each is typed by its own target; the server calls it with the object it holds.
export type Method = (this: CallContext, target: never, ...args: never[]) => unknown;

export interface TypeSpec {
  /** The object for an init value; `deref` turns a proxy of this manager inside it into the object. */
  make(init: unknown, deref: (value: unknown) => unknown): unknown;
  methods: Readonly<Record<string, Method>>;
  /** A client is gone: the object drops what it held for it (waits, a lock). */
  forget?: (this: CallContext, target: never, client: number) => void;
  /** The result of `method` could not reach its caller (too large, gone): e.g. a queue puts its item back. */
  undelivered?: (this: CallContext, target: never, method: string, value: unknown) => void;
  /** A registered type's exposed method names (proxies install them); built-in types have their own proxies. */
  exposed?: readonly string[];
  /** Methods whose result the server keeps as an object of this type, answering with a proxy of it. */
  returns?: Readonly<Record<string, string>>;
}

/** A class registered with Manager.register, as the server is told of it. */
export interface Registered {
  typeid: string;
  module: string;
  exportName: string;
  exposed: string[];
  returns: Record<string, string>;
}

/** The TypeSpec of a registered class: `new cls(...args)`, its exposed methods called on the instance. */
export function registeredSpec(cls: new (...args: unknown[]) => object, r: Registered): TypeSpec {
  const methods: Record<string, Method> = {};
  for (const name of r.exposed) {
    methods[name] = (target: Record<string, unknown>, ...args: unknown[]) => {
      const fn = target[name];
      if (typeof fn !== 'function') throw new TypeError(`${r.typeid}.${name} is not a method of the object`);
      return (fn as (...a: unknown[]) => unknown).apply(target, args);
    };
  }
  return {
    make: (init) => new cls(...(Array.isArray(init) ? (init as unknown[]) : [])),
    methods,
    exposed: r.exposed,
    returns: r.returns,
  };
}

const index = (list: unknown[], i: unknown, what: string): number => {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`${what}: the index must be an integer, got ${describe(i)}`);
  const at = i < 0 ? list.length + i : i;
  if (at < 0 || at >= list.length) throw new RangeError(`${what}: index ${i} is out of range for a list of ${list.length}`);
  return at;
};

const addTo = (current: unknown, by: unknown, what: string): number | bigint => {
  if (typeof by !== 'number' && typeof by !== 'bigint') throw new TypeError(`${what}: the amount must be a number, got ${describe(by)}`);
  if (current === undefined) return by;
  if (typeof current !== typeof by) throw new TypeError(`${what}: the value is ${describe(current)}, not a ${typeof by}`);
  return (current as number) + (by as number);
};

// A Map compares object keys by identity, and every request brings a new copy: such a key could never be found again.
const key = (k: unknown, what: string): unknown => {
  if ((typeof k === 'object' && k !== null) || typeof k === 'function')
    throw new TypeError(
      `${what}: a key must be a string, number, bigint, boolean, null or undefined, got ${describe(k)} (join a tuple into a string)`,
    );
  return k;
};

const dict: TypeSpec = {
  make(init) {
    if (init === undefined) return new Map();
    if (init instanceof Map || Array.isArray(init)) {
      const m = new Map<unknown, unknown>();
      for (const pair of init as Iterable<unknown>) {
        if (!Array.isArray(pair) || pair.length !== 2)
          throw new TypeError(`dict(): each entry must be a [key, value] pair, got ${describe(pair)}`);
        m.set(key(pair[0], 'dict()'), pair[1]);
      }
      return m;
    }
    if (typeof init === 'object' && init !== null) return new Map(Object.entries(init));
    throw new TypeError(`dict(): init must be a Map, an array of [key, value] pairs or an object, got ${describe(init)}`);
  },
  methods: {
    get: (m: Map<unknown, unknown>, k: unknown, dflt?: unknown) => (m.has(key(k, 'DictProxy.get')) ? m.get(k) : dflt),
    set: (m: Map<unknown, unknown>, k: unknown, v: unknown) => void m.set(key(k, 'DictProxy.set'), v),
    has: (m: Map<unknown, unknown>, k: unknown) => m.has(key(k, 'DictProxy.has')),
    delete: (m: Map<unknown, unknown>, k: unknown) => m.delete(key(k, 'DictProxy.delete')),
    keys: (m: Map<unknown, unknown>) => [...m.keys()],
    values: (m: Map<unknown, unknown>) => [...m.values()],
    entries: (m: Map<unknown, unknown>) => [...m.entries()],
    size: (m: Map<unknown, unknown>) => m.size,
    clear: (m: Map<unknown, unknown>) => void m.clear(),
    /** Python's pop(k, default): removes k and returns its value. */
    pop: (m: Map<unknown, unknown>, k: unknown, dflt?: unknown) => {
      if (!m.has(key(k, 'DictProxy.pop'))) return dflt;
      const v = m.get(k);
      m.delete(k);
      return v;
    },
    /** Python's setdefault: the value of k, set to `v` first if k is absent. */
    setDefault: (m: Map<unknown, unknown>, k: unknown, v: unknown) => {
      if (!m.has(key(k, 'DictProxy.setDefault'))) m.set(k, v);
      return m.get(k);
    },
    /** Adds `by` to the number at k (absent: `by`); the new value. Atomic. */
    increment: (m: Map<unknown, unknown>, k: unknown, by: unknown = 1) => {
      const v = addTo(m.get(key(k, 'DictProxy.increment')), by, 'DictProxy.increment');
      m.set(k, v);
      return v;
    },
    /** Sets several keys at once (Python's update(other)). */
    assign: (m: Map<unknown, unknown>, entries: [unknown, unknown][]) => {
      for (const [k, v] of entries) m.set(key(k, 'DictProxy.assign'), v);
    },
    toMap: (m: Map<unknown, unknown>) => m,
    toObject: (m: Map<unknown, unknown>): Record<string, unknown> => Object.fromEntries(m) as Record<string, unknown>,
  },
};

const list: TypeSpec = {
  make(init) {
    if (init === undefined) return [];
    if (Array.isArray(init)) return [...(init as unknown[])];
    throw new TypeError(`list(): init must be an array, got ${describe(init)}`);
  },
  methods: {
    get: (l: unknown[], i: unknown) => l[index(l, i, 'ListProxy.get')],
    set: (l: unknown[], i: unknown, v: unknown) => void (l[index(l, i, 'ListProxy.set')] = v),
    push: (l: unknown[], ...items: unknown[]) => l.push(...items),
    pop: (l: unknown[]) => l.pop(),
    shift: (l: unknown[]) => l.shift(),
    unshift: (l: unknown[], ...items: unknown[]) => l.unshift(...items),
    length: (l: unknown[]) => l.length,
    slice: (l: unknown[], start?: number, end?: number) => l.slice(start, end),
    splice: (l: unknown[], ...args: [number, number, ...unknown[]]) => l.splice(...args),
    indexOf: (l: unknown[], v: unknown) => l.indexOf(v),
    includes: (l: unknown[], v: unknown) => l.includes(v),
    clear: (l: unknown[]) => void l.splice(0),
    /** Adds `by` to the number at index i; the new value. Atomic. */
    increment: (l: unknown[], i: unknown, by: unknown = 1) => {
      const at = index(l, i, 'ListProxy.increment');
      return (l[at] = addTo(l[at], by, 'ListProxy.increment'));
    },
    toArray: (l: unknown[]) => l,
  },
};

/** Attributes a Namespace proxy answers itself (await, JSON, inspection): not stored. */
export const RESERVED = new Set(['then', 'toJSON', 'constructor', 'inspect']);

const namespace: TypeSpec = {
  make(init) {
    const bare = Object.create(null) as Record<string, unknown>;
    if (init === undefined) return bare;
    if (typeof init === 'object' && init !== null && !Array.isArray(init)) {
      for (const k of Object.keys(init)) {
        if (RESERVED.has(k))
          throw new TypeError(`Namespace(): ${JSON.stringify(k)} is a name a Namespace answers itself: use another attribute name`);
      }
      return Object.assign(bare, init);
    }
    throw new TypeError(`Namespace(): init must be an object, got ${describe(init)}`);
  },
  methods: {
    get: (o: Record<string, unknown>, k: string) => o[k],
    set: (o: Record<string, unknown>, k: string, v: unknown) => {
      if (RESERVED.has(k)) throw new TypeError(`${JSON.stringify(k)} is a name a Namespace answers itself: use another attribute name`);
      o[k] = v;
    },
    delete: (o: Record<string, unknown>, k: string) => delete o[k],
    has: (o: Record<string, unknown>, k: string) => Object.prototype.hasOwnProperty.call(o, k),
    keys: (o: Record<string, unknown>) => Object.keys(o),
    increment: (o: Record<string, unknown>, k: string, by: unknown = 1) => (o[k] = addTo(o[k], by, 'Namespace increment')),
    toObject: (o: Record<string, unknown>) => ({ ...o }),
  },
};

/** The built-in types, by typeid. */
export const TYPES: Readonly<Record<string, TypeSpec>> = { dict, list, Namespace: namespace };
