// Names of shared objects in /dev/shm, and the names users give them.
//
//   mp-<tag>-<16 hex>     generated (new SharedMemory({ create: true }), an unnamed Lock, ...).
//                         <tag> is the program's tag in base 36: the pid of its first resource
//                         tracker (native/core/tracker.h), whose processes call themselves
//                         "mp-trk-<tag>"; so `multiproc ls` can tell whether the program that
//                         made an object still has a tracker. 64 random bits make the names
//                         unguessable and collision-free.
//   mp-named.<name>       a named primitive (new Lock({ name })). A "." never occurs in a tag,
//                         so no named object can pass for a generated one (issue 9, item 12:
//                         "mp-sync-<16 hex>" did, and `clean` removed live named Locks).
//   <name>                a SharedMemory given a name: the user's name as it is, as in Python.
//
// A user-given name is 1 to MAX_NAME_BYTES characters of NAME_CHARACTERS, and not "." or "..".
// Nothing else may reach a file name or the tracker's records (item 11: a newline in a name
// injected records into the tracker). native/core/tracker.cc checks the same set again.
import { addon } from '../binding/addon';
import { describe } from '../base/validate';

export const NAME_PREFIX = 'mp-';
/** Prefix of named primitives (Lock({ name }) is the segment "mp-named.<name>"). */
export const NAMED_PREFIX = 'mp-named.';
/** Generated names, exactly: a tag (a pid in base 36, at most 6 digits) and 16 lowercase hex digits. */
export const GENERATED_NAME = /^mp-([1-9a-z][0-9a-z]{0,5})-([0-9a-f]{16})$/;
/** The characters a name may have, as the error messages and the README list them. */
export const NAME_CHARACTERS = 'A-Z a-z 0-9 . _ : @ + = ~ -';
const NAME_CHARACTER = /^[A-Za-z0-9._:@+=~-]$/;
/**
 * Longest user-given name. NAME_MAX is 255, a semaphore's file is "sem." + name, and the
 * tracker takes 251; 240 leaves room for our longest prefix ("mp-named.").
 */
export const MAX_NAME_BYTES = 240;

export function generateName(): string {
  // node:crypto costs ~7 ms to load: only processes that create objects pay it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const tag = addon().trackerInfo().pid.toString(36);
  return `${NAME_PREFIX}${tag}-${randomBytes(8).toString('hex')}`;
}

/**
 * Checks a user-given name; returns it unchanged. TypeError for a character outside the set
 * (naming it), "." and ".."; RangeError for a name too long.
 */
export function validateName(name: unknown, what: string): string {
  if (typeof name !== 'string') {
    throw new TypeError(`${what} must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new TypeError(`${what} must not be empty`);
  let index = 0;
  for (const ch of name) {
    if (!NAME_CHARACTER.test(ch)) {
      if (ch === '/') {
        throw new TypeError(`${what} must not contain "/" (got ${JSON.stringify(name)}): ` + 'give the bare name, e.g. "my-segment"');
      }
      throw new TypeError(
        `${what} must not contain ${describeCharacter(ch)} (at index ${index} of ` +
          `${JSON.stringify(name)}): names are made of ${NAME_CHARACTERS}`,
      );
    }
    index += ch.length;
  }
  if (name === '.' || name === '..') throw new TypeError(`${what} must not be "." or ".."`);
  if (name.length > MAX_NAME_BYTES) {
    throw new RangeError(`${what} must be at most ${MAX_NAME_BYTES} characters long, got ${name.length}`);
  }
  return name;
}

// '"\n" (U+000A, a control character)', '" " (U+0020, a space)', '"é" (U+00E9)'.
function describeCharacter(ch: string): string {
  const code = ch.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const what = code < 0x20 || (code >= 0x7f && code < 0xa0) ? ', a control character' : code === 0x20 ? ', a space' : '';
  return `${JSON.stringify(ch)} (${hex}${what})`;
}

/** The POSIX form the addon takes. */
export const posixName = (name: string): string => `/${name}`;

/** What a file in /dev/shm is to us, read from its name alone. */
export interface ObjectName {
  /** A shared-memory segment, or a POSIX semaphore ("sem.<name>"). */
  kind: 'segment' | 'semaphore';
  /** The object's name (without "sem."). */
  name: string;
  /** The program's tag, for a generated name; null for a named object. */
  tag: string | null;
}

/**
 * Ours: every name under our prefix ("mp-"), generated or not (named primitives, a
 * SharedMemory named "mp-..."). A SharedMemory named otherwise cannot be told from
 * another program's file, and is not ours to list.
 */
export function parseObjectName(entry: string): ObjectName | undefined {
  const semaphore = entry.startsWith('sem.');
  const name = semaphore ? entry.slice(4) : entry;
  if (!name.startsWith(NAME_PREFIX)) return undefined;
  const generated = GENERATED_NAME.exec(name);
  return { kind: semaphore ? 'semaphore' : 'segment', name, tag: generated ? generated[1] : null };
}
