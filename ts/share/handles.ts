// Handle passing: how shared objects travel to another process. Like CPython
// pickling a SemLock by handle, a shareable object (SharedMemory now; Queue,
// Lock, ... later) is written as a small record -- its kind, name and layout
// -- inside ordinary structured-clone data, and reopened by name on arrival.
//
// Wire format of serialize(): one flag byte, then v8.serialize() output.
//   flag 0: plain data, deserialize as is
//   flag 1: contains handle records: revive them after deserializing
// The common case (no handles) pays one check walk and no revive walk.
import v8 from 'node:v8';
import { types } from 'node:util';

/** Implemented by every shareable class: what travels instead of the object. */
export const toHandle: unique symbol = Symbol.for('multiproc.toHandle');

export interface HandleData {
  kind: string;
  [field: string]: unknown;
}

export interface Shareable {
  [toHandle](): HandleData;
}

type Reopen = (data: HandleData) => object;

/**
 * A handle that reserves something for its receiver (a placeholder in the
 * object's holder table, ts/shm/shared_state.ts) says how to give it back
 * if the bytes are not sent after all, and how to give it to a receiver
 * known by its pid before it takes it (a child started with the bytes: if
 * it dies first, its entry is that of a dead process, which is cleared).
 */
export interface Reservation {
  drop(): void;
  /** The receiver is the main thread of process `pid`, whose stamp is `stamp` (ts/shm/thread.ts). */
  assign(pid: number, stamp: number): void;
}

/** What serialize() reserved for the handles it wrote: see collectTickets. */
export interface HandlesSent {
  drop: () => void;
  assign: (pid: number, stamp: number) => void;
}

let reserving: Reservation[] | undefined;

/** Called by a shareable's toHandle() for what it reserved for its receiver. */
export function noteTicket(r: Reservation): void {
  reserving?.push(r);
}

/** Runs `fn` (a serialize()) and returns what its handles reserved (undefined: nothing). */
export function collectTickets<R>(fn: () => R): [R, HandlesSent | undefined] {
  const outer = reserving;
  const mine: Reservation[] = [];
  reserving = mine;
  try {
    const result = fn();
    const sent =
      mine.length === 0
        ? undefined
        : {
            drop: () => mine.forEach((r) => r.drop()),
            assign: (pid: number, stamp: number) => mine.forEach((r) => r.assign(pid, stamp)),
          };
    return [result, sent];
  } catch (e) {
    mine.forEach((r) => r.drop());
    throw e;
  } finally {
    reserving = outer;
  }
}

const HANDLE_KEY = '__multiproc_handle__';
const FLAG_PLAIN = 0;
const FLAG_HANDLES = 1;
const kinds = new Map<string, Reopen>();

// Kinds whose reopen a later registration does not replace (a manager's server reopens proxies of its
// own objects as the objects; a module it imports for a registered class may load the client's reopen).
const finalKinds = new Set<string>();

/** Registers how to reopen a kind of handle in the receiving process; `final`: for good. */
export function registerHandleKind(kind: string, reopen: Reopen, options?: { final?: boolean }): void {
  if (finalKinds.has(kind)) return;
  kinds.set(kind, reopen);
  if (options?.final) finalKinds.add(kind);
}

function isShareable(value: object): value is Shareable {
  return typeof (value as Partial<Shareable>)[toHandle] === 'function';
}

// Values v8.serialize copies whole, without looking inside for handles.
function isLeaf(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp;
}

// A SharedArrayBuffer is shared only between the threads of one process:
// another process cannot see it (v8.serialize refuses it with an obscure
// DataCloneError), so say so, with what to use instead.
function sharedBuffer(value: object): boolean {
  if (types.isSharedArrayBuffer(value)) return true;
  return ArrayBuffer.isView(value) && types.isSharedArrayBuffer(value.buffer);
}

function notCloneable(where: string, value: unknown): TypeError {
  if (typeof value === 'object' && value !== null && types.isProxy(value)) {
    return new TypeError(
      `${where} is a Proxy, which cannot be sent to another process (structured clone refuses ` + 'proxies): send the plain data it wraps',
    );
  }
  if (typeof value === 'object' && value !== null && sharedBuffer(value)) {
    return new TypeError(
      `${where} is ${types.isSharedArrayBuffer(value) ? 'a SharedArrayBuffer' : 'a view of a SharedArrayBuffer'}, ` +
        'which only the threads of one process can share: use a multiproc SharedArray or SharedMemory to share memory between processes',
    );
  }
  const what =
    typeof value === 'function'
      ? `a function${(value as { name?: string }).name ? ` (${(value as { name: string }).name})` : ''}`
      : typeof value === 'symbol'
        ? `a symbol (${String(value)})`
        : `a ${Object.prototype.toString.call(value)}`;
  return new TypeError(
    `${where} is ${what}, which cannot be sent to another process ` + '(only structured-clone data and multiproc shared objects can)',
  );
}

const childPath = (where: string, key: string | number): string =>
  typeof key === 'number' ? `${where}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;

// Cloneable and holding nothing: no need to look inside (or to name its path).
const primitive = (v: unknown): boolean => (typeof v !== 'object' || v === null) && typeof v !== 'function' && typeof v !== 'symbol';

/** Says why the receiver cannot take a shareable (undefined: it can). */
export type Refuse = (value: Shareable) => string | undefined;

// A shareable the receiver takes (true), or a TypeError saying why not.
function accepted(value: Shareable, where: string, refuse: Refuse | undefined): boolean {
  const why = refuse?.(value);
  if (why !== undefined) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'shared object';
    throw new TypeError(`${where} is a ${name}, ${why}`);
  }
  return true;
}

/** Walks `value`: throws a TypeError naming the first non-cloneable part (or refused shareable); true if it holds shareables. */
function scan(value: unknown, where: string, seen: Set<object>, refuse?: Refuse): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') throw notCloneable(where, value);
  if (typeof value !== 'object' || value === null) return false;
  if (seen.has(value)) return false;
  seen.add(value);
  // A Proxy's traps could run anywhere in here: only ours (SharedArray) pass.
  if (types.isProxy(value)) {
    if (isShareable(value)) return accepted(value, where, refuse);
    throw notCloneable(where, value);
  }
  if (isShareable(value)) return accepted(value, where, refuse);
  if (sharedBuffer(value)) throw notCloneable(where, value);
  if (isLeaf(value)) return false;
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof Promise) {
    throw notCloneable(where, value);
  }
  let found = false;
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      found = scan(k, `${where}.keys()[${i}]`, seen, refuse) || found;
      found = scan(v, `${where}.get(${typeof k === 'string' ? JSON.stringify(k) : `keys()[${i}]`})`, seen, refuse) || found;
      i++;
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) found = scan(v, `${where}.values()[${i++}]`, seen, refuse) || found;
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      // Primitives first, without building their path (an array of 25k numbers: 5 ms of strings).
      if (primitive(v)) continue;
      found = scan(v, childPath(where, i), seen, refuse) || found;
    }
  } else {
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (primitive(v)) continue;
      found = scan(v, childPath(where, key), seen, refuse) || found;
    }
  }
  return found;
}

/** A deep copy of `value` with every shareable replaced by its handle record. */
function encode(value: unknown, copies: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const done = copies.get(value);
  if (done !== undefined) return done;
  if (isShareable(value)) {
    const record = { [HANDLE_KEY]: value[toHandle]() };
    copies.set(value, record);
    return record;
  }
  if (isLeaf(value)) return value;
  if (value instanceof Map) {
    const out = new Map();
    copies.set(value, out);
    for (const [k, v] of value) out.set(encode(k, copies), encode(v, copies));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    copies.set(value, out);
    for (const v of value) out.add(encode(v, copies));
    return out;
  }
  if (value instanceof Error) return value;
  const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  copies.set(value, out);
  for (const key of Object.keys(value)) {
    (out as Record<string, unknown>)[key] = encode((value as Record<string, unknown>)[key], copies);
  }
  return out;
}

function isRecord(value: object): value is { [HANDLE_KEY]: HandleData } {
  const data = (value as Record<string, unknown>)[HANDLE_KEY];
  return typeof data === 'object' && data !== null && typeof (data as HandleData).kind === 'string';
}

// Modules that define kinds, by kind: a process whose code never imported a
// kind (a child whose target module does not import multiproc) loads it on
// demand. The layer that knows the modules (process/kinds.ts) fills this in.
const definers = new Map<string, () => void>();

/** Says how to load the module that registers each kind, for kinds not yet registered. */
export function addKindModules(loaders: Readonly<Record<string, () => void>>): void {
  for (const [kind, load] of Object.entries(loaders)) definers.set(kind, load);
}

/**
 * Loads the module of every kind now: a spare process does this while it
 * waits to be claimed, so that reopening its arguments costs no module
 * loading (~3 ms) once it is.
 */
export function loadHandleKinds(): void {
  for (const load of new Set(definers.values())) load();
}

export function reopenHandle(data: HandleData): object {
  if (!kinds.has(data.kind)) definers.get(data.kind)?.();
  const reopen = kinds.get(data.kind);
  if (!reopen) {
    throw new TypeError(
      `received a handle of unknown kind ${JSON.stringify(data.kind)}: ` + 'is the receiving process using the same multiproc version?',
    );
  }
  return reopen(data);
}

/** Replaces handle records inside freshly deserialized data, in place. */
function revive(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  // One record per shareable, however often the value held it: reopened once (one object, one ticket taken over).
  if (isRecord(value)) {
    const opened = reopenHandle(value[HANDLE_KEY]);
    seen.set(value, opened);
    return opened;
  }
  seen.set(value, value);
  if (isLeaf(value)) return value;
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [revive(k, seen), revive(v, seen)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
  } else if (value instanceof Set) {
    const items = [...value].map((v) => revive(v, seen));
    value.clear();
    for (const v of items) value.add(v);
  } else {
    for (const key of Object.keys(value)) {
      const obj = value as Record<string, unknown>;
      obj[key] = revive(obj[key], seen);
    }
  }
  return value;
}

/**
 * Structured-clone `value` for another process. `where` names it in errors
 * ("args[1]"): a function, symbol or other non-cloneable part is a TypeError
 * saying where it was found; so is a shareable `refuse` gives a reason for.
 */
export function serialize(value: unknown, where = 'value', refuse?: Refuse): Buffer {
  const hasHandles = scan(value, where, new Set(), refuse);
  // What v8.serialize() does, with the flag written first: one buffer, no
  // second copy of the payload (a varint 0 or 1 is that single byte).
  const ser = new v8.DefaultSerializer();
  ser.writeUint32(hasHandles ? FLAG_HANDLES : FLAG_PLAIN);
  ser.writeHeader();
  ser.writeValue(hasHandles ? encode(value, new Map()) : value);
  return ser.releaseBuffer();
}

/** `plainOnly`: data holding handles (names of shared objects to open) is refused unread, as from an untrusted writer. */
export function deserialize(data: Uint8Array, plainOnly = false): unknown {
  if (data.length < 2 || (data[0] !== FLAG_PLAIN && data[0] !== FLAG_HANDLES)) {
    throw new TypeError('not data written by multiproc serialize()');
  }
  if (plainOnly && data[0] !== FLAG_PLAIN) throw new TypeError('the data holds shared objects, which are not accepted here');
  const value: unknown = v8.deserialize(data.subarray(1));
  return data[0] === FLAG_HANDLES ? revive(value, new Map()) : value;
}
