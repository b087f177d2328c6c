// Who this thread is, in a way pid reuse cannot fool (native/core/lock.h):
// its kernel thread id and a stamp taken from its start time. Module state
// is per thread in Node (each worker has its own), so caching it is exact.
import { addon } from '../binding/addon';

let tid = 0;
let stamp = 0;
let packed = 0n;

function load(): void {
  [tid, stamp] = addon().threadIdentity();
  packed = pack(tid, stamp);
}

/** This thread's kernel id: the owner recorded in a lock. */
export function threadId(): number {
  if (tid === 0) load();
  return tid;
}

/** This thread's stamp (never 0): recorded beside its id wherever it holds something. */
export function threadStamp(): number {
  if (tid === 0) load();
  return stamp;
}

/** [tid, stamp] packed as one 64-bit identity (the stamp in the high word). */
export function pack(t: number, s: number): bigint {
  return (BigInt(s >>> 0) << 32n) | BigInt(t >>> 0);
}

/** This thread's packed identity. */
export function threadIdentity(): bigint {
  if (tid === 0) load();
  return packed;
}

/** Whether the thread of a packed identity still lives (the same incarnation). */
export function identityAlive(id: bigint): boolean {
  const t = Number(id & 0xffffffffn);
  return addon().threadAlive(t, Number(id >> 32n));
}
