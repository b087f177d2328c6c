// Typecodes: Python's array/ctypes letters and their TypeScript names. 64-bit
// integer types hold bigints, as BigInt64Array does; 'c' holds one byte,
// read as a one-character string.

/** Python's array/ctypes letters and their TypeScript names. */
export type Typecode =
  | 'b'
  | 'B'
  | 'h'
  | 'H'
  | 'i'
  | 'I'
  | 'l'
  | 'L'
  | 'q'
  | 'Q'
  | 'f'
  | 'd'
  | 'c'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64'
  | 'char';

type BigCodes = 'l' | 'L' | 'q' | 'Q' | 'int64' | 'uint64';
type IntCodes = 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | BigCodes;

/** What a Value of typecode C holds: bigint for 64-bit integers, a one-character string for 'c', else number. */
export type ValueOf<C extends Typecode> = C extends BigCodes ? bigint : C extends 'c' | 'char' ? string : number;
/** The integer typecodes (add and compareExchange work on them). */
export type IntegerTypecode = IntCodes;

/** The typed array a SharedArray (or Value) of typecode C is viewed through. */
export type ViewOf<C extends Typecode> = C extends 'b' | 'int8'
  ? InstanceType<Int8ArrayConstructor>
  : C extends 'B' | 'uint8' | 'c' | 'char'
    ? InstanceType<Uint8ArrayConstructor>
    : C extends 'h' | 'int16'
      ? InstanceType<Int16ArrayConstructor>
      : C extends 'H' | 'uint16'
        ? InstanceType<Uint16ArrayConstructor>
        : C extends 'i' | 'int32'
          ? InstanceType<Int32ArrayConstructor>
          : C extends 'I' | 'uint32'
            ? InstanceType<Uint32ArrayConstructor>
            : C extends 'l' | 'q' | 'int64'
              ? InstanceType<BigInt64ArrayConstructor>
              : C extends 'L' | 'Q' | 'uint64'
                ? InstanceType<BigUint64ArrayConstructor>
                : C extends 'f' | 'float32'
                  ? InstanceType<Float32ArrayConstructor>
                  : C extends 'd' | 'float64'
                    ? InstanceType<Float64ArrayConstructor>
                    : TypedArray;

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

export type TypedArray = InstanceType<TypedArrayConstructor>;

export interface TypeInfo {
  /** The canonical TypeScript name: 'int32', 'float64', 'char', ... */
  name: string;
  /** Its place in CANONICAL (what a named Value's segment records). */
  index: number;
  /** An integer type (atomic add and compareExchange work). */
  integer: boolean;
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
/** The canonical types, by index. */
export const CANONICAL: TypeInfo[] = [];
for (const [codes, name, array, char] of table) {
  const info: TypeInfo = {
    name,
    index: CANONICAL.length,
    array,
    bytes: array.BYTES_PER_ELEMENT,
    bigint: array === BigInt64Array || array === BigUint64Array,
    char: char === true,
    integer: char !== true && array !== Float32Array && array !== Float64Array,
  };
  CANONICAL.push(info);
  for (const code of codes) byCode.set(code, info);
}

export const TYPECODES = [...byCode.keys()] as readonly Typecode[];

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
  // As Python's ctypes: an integer type takes integers (a fraction or NaN is
  // an error, not truncated to a surprise); out of its range, it wraps.
  if (info.integer && !Number.isInteger(value)) throw new TypeError(`${where} must be an integer for ${info.name}, got ${value}`);
  return value;
}

/** An addend or comparand for the atomic helpers of an integer type. */
export function toInteger(info: TypeInfo, value: unknown, where: string): number | bigint {
  if (!info.integer) throw new TypeError(`atomic add() and compareExchange() need an integer typecode, not ${info.name}`);
  if (info.bigint) {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    throw new TypeError(
      `${where} must be a bigint (or a safe integer) for ${info.name}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${where} must be an integer for ${info.name}, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

export function fromStored(info: TypeInfo, raw: number | bigint): number | bigint | string {
  return info.char ? String.fromCharCode(raw as number) : raw;
}
