// This thread's kernel id: the owner recorded in a lock. Module state is per
// thread in Node (each worker has its own), so caching it here is exact.
import { addon } from '../addon';

let tid = 0;

export function threadId(): number {
  return tid || (tid = addon().threadId());
}
