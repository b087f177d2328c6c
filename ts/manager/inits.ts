// What a manager's factories send the server to make each built-in type
// (Manager and RemoteManager make the same objects, one blocking, one
// async), and the checks of the options both take.
import { checkKeys, describe, isIterable } from '../base/validate';
import type { ResolvedAddress } from './listener';

// An iterable init (a Set, a generator) read into an array; a string stays itself (and is refused as an init).
const spread = (init: unknown): unknown => (isIterable(init) && typeof init !== 'string' ? [...init] : init);

/** The init value the server's make() gets, from a factory's arguments, by typeid. */
export const INIT: Readonly<Record<string, (...args: unknown[]) => unknown>> = {
  dict: (init) => (init === undefined || init instanceof Map || Array.isArray(init) ? init : spread(init)),
  list: (init) => (init === undefined || Array.isArray(init) ? init : spread(init)),
  Namespace: (init) => init,
  Queue: (maxsize) => maxsize,
  JoinableQueue: (maxsize) => maxsize,
  Lock: () => undefined,
  RLock: () => undefined,
  Semaphore: (value) => value,
  Event: () => undefined,
  Condition: (lock) => lock,
  Barrier: (parties) => parties,
  Value: (typecode, value) => [typecode, value],
  Array: (typecode, init) => [typecode, typeof init === 'number' || typeof init === 'string' ? init : spread(init)],
};

export interface Limits {
  /** The largest message either side of a remote connection takes (default 64 MiB). */
  maxMessageBytes?: number;
  /** How long a connecting client has to authenticate, in ms (default 10 s). */
  authTimeout?: number;
}

export const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

export function checkLimits(options: Limits, what: string): { maxMessageBytes: number; authTimeoutMs: number } {
  const { maxMessageBytes = DEFAULT_MAX_MESSAGE, authTimeout = DEFAULT_AUTH_TIMEOUT_MS } = options;
  if (typeof maxMessageBytes !== 'number' || !Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > 0x7fffffff)
    throw new TypeError(`${what}: maxMessageBytes must be an integer from 1024 to 2**31-1, got ${describe(maxMessageBytes)}`);
  if (typeof authTimeout !== 'number' || !(authTimeout > 0))
    throw new TypeError(`${what}: authTimeout must be a number of ms > 0, got ${describe(authTimeout)}`);
  return { maxMessageBytes, authTimeoutMs: authTimeout };
}

/** A checked copy of an address: { host, port } (TCP) or { path } (a Unix socket). */
export function checkAddress(address: unknown, what: string): ResolvedAddress {
  if (typeof address !== 'object' || address === null)
    throw new TypeError(`${what}: address must be { host, port } or { path }, got ${describe(address)}`);
  if ('path' in address) {
    checkKeys(address, ['path'], `${what} address`);
    const p = address.path;
    if (typeof p !== 'string' || p === '') throw new TypeError(`${what}: address.path must be a non-empty string, got ${describe(p)}`);
    // sun_path holds 108 bytes with its NUL.
    if (Buffer.byteLength(p) > 107) throw new RangeError(`${what}: a Unix socket path is at most 107 bytes, got ${Buffer.byteLength(p)}`);
    return { path: p };
  }
  checkKeys(address, ['host', 'port'], `${what} address`);
  const { host = '127.0.0.1', port } = address as { host?: unknown; port?: unknown };
  if (typeof host !== 'string' || host === '')
    throw new TypeError(`${what}: address.host must be a non-empty string, got ${describe(host)}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new TypeError(`${what}: address.port must be an integer from 0 to 65535, got ${describe(port)}`);
  return { host, port };
}

/** The factories both managers have, by name: the typeid they make. */
export type Factories = keyof typeof INIT;
