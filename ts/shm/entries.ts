// Tables of entries in shared memory, each led by a 64-bit identity: who
// (which thread of which process, thread.ts) holds this entry. Every table
// that has to survive the death of a participant is one of these -- the
// holders of an object, a Condition's waiters, a Barrier's parties, a
// JoinableQueue's consumers, a tracked Semaphore's holders, a pipe's
// senders -- so that a dead participant can be told from a live one and
// its entry given back.
//
// An identity is claimed and freed with one 64-bit compare-and-swap, so a
// reader never sees half of one. 0 is a free entry. An identity whose
// thread-id half has bit 30 set is a placeholder: an entry reserved for a
// handle in flight to another process (always "alive" until its receiver
// takes it over or it is dropped). Real thread ids are below 2^22.
//
// Taking a dead thread's entry back, when the entry holds more than the
// identity (a consumer's count of items, a holder's units): whoever frees
// it must take what it held exactly once, and no one may claim the entry
// before that is done (else a second reclaimer would zero the new owner's
// count). So the reclaimer first swaps the dead identity for a tombstone --
// its own identity with bit 31 of the thread-id half set -- then takes the
// contents, then frees the entry. A tombstone is neither free nor live; one
// whose reclaimer died half-way is reclaimed again by the next purge.
//
// Whether a table is empty. Removing an object (or ending a pipe's
// direction) once no one holds it needs a table that is empty at one
// instant, but a scan reads entry after entry: a holder seen as absent
// early on may have put a placeholder there (to send a handle) before
// giving up its own entry further on, and the scan would see neither. So a
// table that decides such things has a counter of give-ups, bumped before
// each live entry is freed (giveUp), and empty() is true only if the
// counter did not move during its scan. Claims need no bump: only a live
// entry's holder can make a new one, and that entry is either seen by the
// scan or given up during it. Freeing dead entries does not bump: two
// last holders purging at once would otherwise each see the other's
// purge and neither remove the object.
import { identityAlive, threadIdentity } from './thread';

const PLACEHOLDER = 0x40000000;
const TOMBSTONE = 0x80000000n;

export const isPlaceholder = (id: bigint): boolean => (Number(id & 0xffffffffn) & PLACEHOLDER) !== 0;
const isTombstone = (id: bigint): boolean => (id & TOMBSTONE) !== 0n;
// Whether an identity still counts: a placeholder, a live thread, or a
// tombstone whose reclaimer is at work.
const standing = (id: bigint): boolean => (isTombstone(id) ? identityAlive(id & ~TOMBSTONE) : isPlaceholder(id) || identityAlive(id));

/** A fresh placeholder identity: 62 random bits, unique among an object's handles in flight. */
export function placeholder(): bigint {
  const low = (PLACEHOLDER | Math.floor(Math.random() * PLACEHOLDER)) >>> 0;
  const high = Math.floor(Math.random() * 0x100000000);
  return (BigInt(high) << 32n) | BigInt(low);
}

export class Entries {
  readonly #ids: BigUint64Array;
  readonly #first: number;
  readonly #stride: number;
  readonly #i32: Int32Array;
  readonly #giveUps: number;
  readonly count: number;

  /**
   * `i32` views the whole segment; the table starts at word `first` (even),
   * with `count` entries of `words` words (even) each, identity first.
   * `giveUps`: the word of its give-up counter, for tables that empty()
   * judges (-1: none).
   */
  constructor(i32: Int32Array, first: number, count: number, words: number, giveUps = -1) {
    if (first % 2 !== 0 || words % 2 !== 0) throw new Error('internal error: entries must be 8-byte aligned');
    this.#ids = new BigUint64Array(i32.buffer, i32.byteOffset, Math.floor(i32.length / 2));
    this.#i32 = i32;
    this.#giveUps = giveUps;
    this.#first = first / 2;
    this.#stride = words / 2;
    this.count = count;
  }

  /** Word index (in the segment's Int32Array) of word `field` of entry `i`. */
  word(i: number, field: number): number {
    return (this.#first + i * this.#stride) * 2 + field;
  }

  identity(i: number): bigint {
    return Atomics.load(this.#ids, this.#first + i * this.#stride);
  }

  /** Claims a free entry for `id` (default: this thread); -1 when all are taken. */
  claim(id: bigint = threadIdentity(), from = 0): number {
    for (let n = 0; n < this.count; n++) {
      const i = (from + n) % this.count;
      const at = this.#first + i * this.#stride;
      if (Atomics.load(this.#ids, at) === 0n && Atomics.compareExchange(this.#ids, at, 0n, id) === 0n) return i;
    }
    return -1;
  }

  /** claim(), and if the table is full, once more after freeing the entries of dead threads. */
  claimOrPurge(id: bigint = threadIdentity()): number {
    const i = this.claim(id);
    if (i >= 0) return i;
    this.purge();
    return this.claim(id);
  }

  /** Replaces `from` with `to` in entry i; false if the entry holds something else. */
  swap(i: number, from: bigint, to: bigint): boolean {
    return Atomics.compareExchange(this.#ids, this.#first + i * this.#stride, from, to) === from;
  }

  /** Frees entry i if it still holds `id`. */
  free(i: number, id: bigint = threadIdentity()): boolean {
    return this.swap(i, id, 0n);
  }

  /** Frees a live entry (its holder's own, or a placeholder), counted for empty(). */
  giveUp(i: number, id: bigint = threadIdentity()): boolean {
    if (this.#giveUps >= 0) Atomics.add(this.#i32, this.#giveUps, 1);
    return this.swap(i, id, 0n);
  }

  /**
   * Whether no entry is live, at one instant: false as soon as a live one is
   * seen (placeholders first: they cost no /proc read), and false if an
   * entry was given up during the scan -- whoever gave it up looks again.
   * Frees the dead entries it passes.
   */
  empty(): boolean {
    if (this.#giveUps < 0) throw new Error('internal error: empty() needs a table with a give-up counter');
    const before = Atomics.load(this.#i32, this.#giveUps);
    for (let i = 0; i < this.count; i++) if (isPlaceholder(this.identity(i))) return false;
    for (let i = 0; i < this.count; i++) {
      const id = this.identity(i);
      if (id === 0n || isTombstone(id)) continue;
      if (isPlaceholder(id) || identityAlive(id)) return false;
      this.swap(i, id, 0n);
    }
    return Atomics.load(this.#i32, this.#giveUps) === before;
  }

  /** The entry this thread holds, from a hint first; -1 if none. */
  find(id: bigint = threadIdentity(), hint = -1): number {
    if (hint >= 0 && hint < this.count && this.identity(hint) === id) return hint;
    for (let i = 0; i < this.count; i++) if (this.identity(i) === id) return i;
    return -1;
  }

  /** Whether entry i is taken by a live thread or a placeholder. */
  live(i: number): boolean {
    const id = this.identity(i);
    return id !== 0n && !isTombstone(id) && (isPlaceholder(id) || identityAlive(id));
  }

  /**
   * Takes a dead thread's entry back: `take` runs (to take what the entry
   * held) only for the one caller that won it, while no one can claim it.
   * False if another caller won it.
   */
  reclaim(i: number, dead: bigint, take: () => void): boolean {
    const tomb = threadIdentity() | TOMBSTONE;
    if (!this.swap(i, dead, tomb)) return false;
    take();
    this.swap(i, tomb, 0n);
    return true;
  }

  /**
   * Frees the entries of dead threads -- or, with `onDead`, hands each to it
   * instead (it frees the entry itself, after taking what the dead thread
   * held) -- and returns how many live ones (placeholders included) remain.
   */
  purge(onDead?: (i: number, id: bigint) => void): number {
    let live = 0;
    for (let i = 0; i < this.count; i++) {
      const id = this.identity(i);
      if (id === 0n) continue;
      if (standing(id)) {
        if (!isTombstone(id)) live++;
      } else if (onDead) {
        onDead(i, id);
      } else {
        this.free(i, id);
      }
    }
    return live;
  }
}
