// How a queue item becomes a ring record and back. A record's tag (a u32 in
// its header, native/core/ring.h) holds the encoding below in its upper bits
// and, in its low two bits, how the addon turns the payload into a JS value
// (bytes, a UTF-8 string or a float64). The common items then cost no more
// than a string conversion: v8.serialize + deserialize cost ~4 us for a
// three-key object here, JSON.stringify + parse ~0.8 us, a number ~0.
import { types } from 'node:util';
import { collectTickets, deserialize, serialize } from '../share/handles';
import { addon } from '../binding/addon';
import { GENERATED_NAME, posixName } from '../shm/names';
import { SharedMemory } from '../shm/shared_memory';
import { SIDE_MAGIC } from '../binding/layout';
import { corruptError } from '../base/errors';

// How the addon turns a record's payload into a JS value: the low bits of its
// tag (native/glue/ring_codes.h). Kept here as constants, since the tags
// below are, and test/layout.test.ts holds them to the addon's `layout`.
export const REPRESENTATION = { bytes: 0, utf8: 1, float64: 2, bits: 2 } as const;
const { bytes: BYTES, utf8: UTF8, float64: FLOAT64 } = REPRESENTATION;

const tag = (encoding: number, representation: number): number => (encoding << REPRESENTATION.bits) | representation;

// What a record holds.
export const V8 = tag(0, BYTES); // serialize() output (structured clone, handles)
export const RAW = tag(1, BYTES); // Connection.sendBytes
export const BUFFER = tag(2, BYTES); // a Buffer, copied as is
export const UINT8ARRAY = tag(3, BYTES); // a plain Uint8Array, likewise
export const NUMBER = tag(4, FLOAT64);
export const STRING = tag(5, UTF8); // a well-formed string (UTF-8 cannot carry lone surrogates)
export const JSON_TEXT = tag(6, UTF8); // small plain data, as JSON (see jsonCopy)
const SIDE = tag(7, UTF8); // an item in a segment of its own: "<tag>:<bytes>:<segment name>"
const TAGS = new Set([V8, RAW, BUFFER, UINT8ARRAY, NUMBER, STRING, JSON_TEXT, SIDE]);

// A side segment starts with SIDE_HEADER bytes: the magic (u32), a version
// (u32), the item's length (u64). A receiver unlinks a side segment only
// after checking them, so a forged record cannot make it remove (or return)
// some other file.
const SIDE_VERSION = 1;
const SIDE_HEADER = 16;

declare global {
  interface String {
    /** ES2024, in Node since 20: false when the string holds a lone surrogate. */
    isWellFormed(): boolean;
  }
}

export type RecordValue = Uint8Array | string | number;

export interface Encoded {
  tag: number;
  value: RecordValue;
  /** Gives back the placeholders of the handles inside (shared_state.ts), if the item is not sent after all. */
  drop?: (() => void) | undefined;
}

// Past some hundreds of values v8.serialize catches up with JSON, and for
// numbers it wins by far (10,000 of them: 33 us against 1.1 ms to
// stringify), so only items of at most this many values take the JSON path.
const JSON_BUDGET = 100;
let budget = 0;
const NOT_JSON = Symbol('not JSON');
const objectTag = (value: object): string => Object.prototype.toString.call(value);
const isRawJSON = (JSON as { isRawJSON?: (v: unknown) => boolean }).isRawJSON ?? (() => false);

/**
 * A copy of `value` that JSON.stringify then JSON.parse turn into exactly what
 * structured clone would give, or NOT_JSON. That is: plain objects and
 * arrays (no holes, no extra properties, no Proxy) of strings, booleans,
 * null and finite numbers other than -0 (JSON turns NaN to null and -0 to 0).
 * Copying reads every property once, as structured clone does (a getter runs
 * once), and leaves behind anything JSON.stringify would treat specially (an
 * own toJSON is a function, so the item is not JSON). Cycles and deep items
 * run into the budget and take the v8 path, which keeps them.
 */
function jsonCopy(value: unknown): unknown {
  if (--budget < 0) return NOT_JSON;
  switch (typeof value) {
    case 'string': // JSON escapes lone surrogates, and parse restores them
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) ? value : NOT_JSON;
    case 'object': {
      if (value === null) return null;
      if (types.isProxy(value)) return NOT_JSON; // structured clone refuses them
      if (Array.isArray(value)) {
        const n = value.length;
        if (n > budget) return NOT_JSON; // before Object.keys() and the copy: a big array costs nothing here
        if (Object.getPrototypeOf(value) !== Array.prototype || Object.keys(value).length !== n) return NOT_JSON;
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) if ((out[i] = jsonCopy(value[i])) === NOT_JSON) return NOT_JSON;
        return out;
      }
      const proto = Object.getPrototypeOf(value) as object | null;
      // The tag check leaves out arguments objects, module namespaces and the like.
      if ((proto !== Object.prototype && proto !== null) || objectTag(value) !== '[object Object]' || isRawJSON(value)) {
        return NOT_JSON;
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key === '__proto__') return NOT_JSON; // an own property that assignment would not make
        if ((out[key] = jsonCopy((value as Record<string, unknown>)[key])) === NOT_JSON) return NOT_JSON;
      }
      return out;
    }
    default:
      return NOT_JSON;
  }
}

// JSON.stringify calls toJSON methods, which a program may have added to the
// built-in prototypes: then no item takes the JSON path.
const builtinsHaveToJSON = (): boolean =>
  'toJSON' in Object.prototype ||
  'toJSON' in Array.prototype ||
  'toJSON' in String.prototype ||
  'toJSON' in Number.prototype ||
  'toJSON' in Boolean.prototype;

/**
 * The JSON text of `value` when JSON carries it exactly as structured clone
 * would (see jsonCopy) and it is small (at most JSON_BUDGET values), else
 * undefined. For senders that frame many small items into one record (a
 * Pool's batches of tasks) and send the others the usual way.
 */
export function jsonText(value: unknown): string | undefined {
  if (builtinsHaveToJSON()) return undefined;
  budget = JSON_BUDGET;
  const copy = jsonCopy(value);
  return copy === NOT_JSON ? undefined : JSON.stringify(copy);
}

/** The record for an item; raw: bytes as they are (Connection.sendBytes). */
export function encode(item: unknown, raw: boolean): Encoded {
  if (raw) return { tag: RAW, value: item as Uint8Array };
  switch (typeof item) {
    case 'number':
      return { tag: NUMBER, value: item };
    case 'string':
      if (item.isWellFormed()) return { tag: STRING, value: item };
      break;
    case 'object':
      if (item === null) return { tag: JSON_TEXT, value: 'null' };
      if (Buffer.isBuffer(item)) return { tag: BUFFER, value: item };
      if (item instanceof Uint8Array && item.constructor === Uint8Array) return { tag: UINT8ARRAY, value: item };
      if (!builtinsHaveToJSON()) {
        budget = JSON_BUDGET;
        const copy = jsonCopy(item);
        if (copy !== NOT_JSON) return { tag: JSON_TEXT, value: JSON.stringify(copy) };
      }
      break;
    case 'boolean':
      return { tag: JSON_TEXT, value: item ? 'true' : 'false' };
  }
  const [value, sent] = collectTickets(() => serialize(item, 'item'));
  return { tag: V8, value, drop: sent?.drop };
}

/**
 * The item a record holds (bytes are the ring's copy, or a side segment's
 * view). `where` names the queue: a record that cannot be what its tag says
 * (another process wrote into the segment) is an ERR_MP_CORRUPT error.
 */
export function decode(tag: number, value: RecordValue, where: string): unknown {
  switch (tag) {
    case NUMBER:
    case STRING:
    case BUFFER:
    case RAW:
      return value;
    case UINT8ARRAY: {
      const b = value as Uint8Array;
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    case JSON_TEXT:
      try {
        return JSON.parse(value as string);
      } catch (e) {
        throw corruptError(`${where} held an item that is not the JSON it was written as (corrupted?)`, e);
      }
    case V8:
      try {
        return deserialize(value as Uint8Array);
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_MP_CORRUPT') throw e;
        // A handle whose object is gone is not corruption: say what it is.
        if (e instanceof Error && (e as { code?: string }).code !== undefined) throw e;
        throw corruptError(`${where} held an item that cannot be deserialized (corrupted?): ${(e as Error).message}`, e);
      }
    case SIDE: {
      const [inner, bytes] = fromSide(value as string, where);
      return decode(inner, bytes, where);
    }
  }
  throw corruptError(`${where} held a record with tag ${tag}, which multiproc never writes (corrupted?)`);
}

/** For Connection.recvBytes: bytes as they were sent, any other item as serialize() writes it. */
export function decodeBytes(tag: number, value: RecordValue, where: string): Buffer {
  if (tag === SIDE) {
    const [inner, bytes] = fromSide(value as string, where);
    return decodeBytes(inner, bytes, where);
  }
  if (tag === RAW || tag === V8) return value as Buffer; // V8 records are serialize() output already
  return serialize(decode(tag, value, where), 'message');
}

/**
 * An item too large for the ring: one copy into a segment of its own, which
 * the receiver unlinks (and the tracker, if the receiver dies first). The
 * record that goes through the ring names it.
 */
export function toSide(encoded: Encoded): Encoded {
  const { tag: inner, value, drop } = encoded;
  const bytes = typeof value === 'string' ? Buffer.from(value) : (value as Uint8Array);
  const side = new SharedMemory({ create: true, size: SIDE_HEADER + bytes.byteLength });
  const buf = side.buf;
  buf.writeUInt32LE(SIDE_MAGIC, 0);
  buf.writeUInt32LE(SIDE_VERSION, 4);
  buf.writeBigUInt64LE(BigInt(bytes.byteLength), 8);
  buf.set(bytes, SIDE_HEADER);
  side.close();
  return { tag: SIDE, value: `${inner}:${bytes.byteLength}:${side.name}`, drop };
}

/**
 * Gives back what a record that never went into the ring holds (the put
 * failed): the placeholders of its handles, and its side segment, which is
 * unlinked by name (opening it would map the whole item again).
 */
export function discard(record: Encoded): void {
  record.drop?.();
  unlinkSide(record);
}

/** Unlinks a record's side segment (none for an ordinary record), by name. */
export function unlinkSide(record: Encoded): void {
  if (record.tag !== SIDE) return;
  try {
    addon().Segment.unlink(posixName((record.value as string).split(':')[2]));
  } catch {
    // Gone already, or not removable now: the caller is reporting why the
    // put failed, which matters more, and the tracker removes it at exit.
  }
}

// Not copied out where a view will do: a Buffer or Uint8Array item comes back
// as a view of the side segment, and so do the typed arrays v8.deserialize
// finds in it. The name goes now; the mapping goes when the last view of it
// is collected. Everything the record says is checked before the segment
// is trusted -- or unlinked.
function fromSide(record: string, where: string): [tag: number, value: RecordValue] {
  const [tagText, lengthText, name, extra] = record.split(':');
  const inner = Number(tagText);
  const length = Number(lengthText);
  if (
    extra !== undefined ||
    name === undefined ||
    !GENERATED_NAME.test(name) ||
    !TAGS.has(inner) ||
    inner === SIDE ||
    !Number.isSafeInteger(length) ||
    length < 0
  ) {
    throw corruptError(
      `${where} held a record naming a side segment that multiproc did not make (corrupted?): ${JSON.stringify(record.slice(0, 100))}`,
    );
  }
  let side: SharedMemory;
  try {
    side = new SharedMemory({ name });
  } catch (e) {
    throw corruptError(`${where} held a record naming side segment ${name}, which cannot be opened: ${(e as Error).message}`, e);
  }
  const buf = side.buf;
  if (
    buf.length < SIDE_HEADER + length ||
    buf.readUInt32LE(0) !== SIDE_MAGIC ||
    buf.readUInt32LE(4) !== SIDE_VERSION ||
    buf.readBigUInt64LE(8) !== BigInt(length)
  ) {
    side.close();
    throw corruptError(`${where} held a record naming ${name}, which is not a side segment of this item (corrupted?)`);
  }
  side.unlink();
  const bytes = buf.subarray(SIDE_HEADER, SIDE_HEADER + length);
  return [inner, (inner & ((1 << REPRESENTATION.bits) - 1)) === UTF8 ? bytes.toString('utf8') : bytes];
}
