// Typecodes: Python's array/ctypes letters and their TypeScript names. 64-bit
// integer types hold bigints, as BigInt64Array does; 'c' holds one byte,
// read as a one-character string.

type TypedArrayConstructor =
  | Int8ArrayConstructor | Uint8ArrayConstructor | Int16ArrayConstructor | Uint16ArrayConstructor
  | Int32ArrayConstructor | Uint32ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor;

export type TypedArray = InstanceType<TypedArrayConstructor>;

export interface TypeInfo {
  /** The canonical TypeScript name: 'int32', 'float64', 'char', ... */
  name: string;
  array: TypedArrayConstructor;
  bytes: number;
  bigint: boolean;
  char: boolean;
}

const table: Array<[string[], string, TypedArrayConstructor, boolean?]> = [
  [['b', 'int8'], 'int8', Int8Array],
  [['B', 'uint8'], 'uint8', Uint8Array],
  [['h', 'int16'], 'int16', Int16Array],
  [['H', 'uint16'], 'uint16', Uint16Array],
  [['i', 'int32'], 'int32', Int32Array],
  [['I', 'uint32'], 'uint32', Uint32Array],
  // C long is 64 bits on 64-bit Linux, as in CPython there.
  [['l', 'q', 'int64'], 'int64', BigInt64Array],
  [['L', 'Q', 'uint64'], 'uint64', BigUint64Array],
  [['f', 'float32'], 'float32', Float32Array],
  [['d', 'float64'], 'float64', Float64Array],
  [['c', 'char'], 'char', Uint8Array, true],
];

const byCode = new Map<string, TypeInfo>();
for (const [codes, name, array, char] of table) {
  const info: TypeInfo = {
    name, array, bytes: array.BYTES_PER_ELEMENT,
    bigint: array === BigInt64Array || array === BigUint64Array, char: char === true,
  };
  for (const code of codes) byCode.set(code, info);
}

export const TYPECODES: readonly string[] = [...byCode.keys()];

export function typeInfo(typecode: unknown): TypeInfo {
  const info = typeof typecode === 'string' ? byCode.get(typecode) : undefined;
  if (!info) {
    throw new TypeError(`unknown typecode ${JSON.stringify(typecode)}: use one of ${TYPECODES.map((c) => `'${c}'`).join(', ')}`);
  }
  return info;
}

/** Converts a user value for storage, with a TypeError/RangeError a user can act on. */
export function toStored(info: TypeInfo, value: unknown, where: string): number | bigint {
  if (info.char) {
    if (typeof value === 'string' && value.length === 1 && value.charCodeAt(0) < 256) return value.charCodeAt(0);
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 256) return value;
    throw new TypeError(`${where} must be a one-character string (or a byte 0-255) for typecode 'c', got ${JSON.stringify(value)}`);
  }
  if (info.bigint) {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
    throw new TypeError(`${where} must be a bigint (or an integer number) for ${info.name}, got ${typeof value}`);
  }
  if (typeof value !== 'number') throw new TypeError(`${where} must be a number for ${info.name}, got ${typeof value}`);
  return value;
}

export function fromStored(info: TypeInfo, raw: number | bigint): number | bigint | string {
  return info.char ? String.fromCharCode(raw as number) : raw;
}
