// Names of the shared objects we create: "mp-<tracker pid, base 36>-<16 hex>".
// The common prefix lets `multiproc ls` find them; the tracker's pid says
// which program's tracker will remove them (so whether they are orphans);
// 64 random bits make them unguessable and collision-free.
import { addon } from './addon';

export const NAME_PREFIX = 'mp-';
export const GENERATED_NAME = /^mp-([0-9a-z]+)-([0-9a-f]{16})$/;
// NAME_MAX is 255; a semaphore's file is "sem." + name.
const MAX_NAME_LENGTH = 251;

export function generateName(): string {
  // node:crypto costs ~7 ms to load: only processes that create objects pay it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const tag = addon().trackerInfo().pid.toString(36);
  return `${NAME_PREFIX}${tag}-${randomBytes(8).toString('hex')}`;
}

/** Checks a user-given name; returns it unchanged. */
export function validateName(name: unknown, what: string): string {
  if (typeof name !== 'string') {
    throw new TypeError(`${what} must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new TypeError(`${what} must not be empty`);
  if (name.includes('/')) {
    throw new TypeError(`${what} must not contain "/" (got ${JSON.stringify(name)}): ` +
      'give the bare name, e.g. "my-segment"');
  }
  if (name.includes('\0')) throw new TypeError(`${what} must not contain NUL characters`);
  if (name === '.' || name === '..') throw new TypeError(`${what} must not be "." or ".."`);
  if (Buffer.byteLength(name) > MAX_NAME_LENGTH) {
    throw new RangeError(`${what} must be at most ${MAX_NAME_LENGTH} bytes long, got ${Buffer.byteLength(name)}`);
  }
  return name;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return `${typeof value} ${String(value)}`;
}

/** The POSIX form the addon takes. */
export const posixName = (name: string): string => `/${name}`;
