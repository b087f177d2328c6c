// PyMOTW multiprocessing_lock.py: a Lock serializes access to stdout.
import { Lock, Process, isMainProcess } from 'multiproc';

export async function workerWith(lock) {
  // Python's `with lock:`
  await lock.withLock(() => process.stdout.write('Lock acquired via withLock\n'));
}

export function workerNoWith(lock) {
  lock.acquireSync();
  try {
    process.stdout.write('Lock acquired directly\n');
  } finally {
    lock.release();
  }
}

if (isMainProcess()) {
  const lock = new Lock();
  const w = new Process({ target: workerWith, args: [lock] });
  const nw = new Process({ target: workerNoWith, args: [lock] });
  w.start();
  nw.start();
  await w.join();
  await nw.join();
}
