// PyMOTW multiprocessing_semaphore.py: at most three workers run at once.
// The original keeps the active list in a Manager list; until Manager lands,
// the pool is a SharedArray of flags guarded by a Lock.
import { setTimeout as sleep } from 'node:timers/promises';
import { Lock, Process, RawArray, Semaphore, currentProcess, isMainProcess } from 'multiproc';

export class ActivePool {
  constructor(size) {
    this.active = RawArray('B', size);
    this.lock = new Lock();
  }

  makeActive(name) {
    this.lock.acquireSync();
    this.active.view[Number(name)] = 1;
    this.lock.release();
  }

  makeInactive(name) {
    this.lock.acquireSync();
    this.active.view[Number(name)] = 0;
    this.lock.release();
  }

  toString() {
    this.lock.acquireSync();
    try {
      const names = [...this.active.view.keys()].filter((i) => this.active.view[i]);
      return `[${names.map((n) => `'${n}'`).join(', ')}]`;
    } finally {
      this.lock.release();
    }
  }
}

export async function worker(s, active, lock) {
  const pool = Object.assign(Object.create(ActivePool.prototype), { active, lock });
  const name = currentProcess().name;
  await s.acquire();
  try {
    pool.makeActive(name);
    console.log(`Activating ${name} now running ${pool}`);
    await sleep(Math.random() * 300);
    pool.makeInactive(name);
  } finally {
    s.release();
  }
}

if (isMainProcess()) {
  const pool = new ActivePool(10);
  const s = new Semaphore(3);
  const jobs = Array.from({ length: 10 }, (_, i) => new Process({ target: worker, name: String(i), args: [s, pool.active, pool.lock] }));
  for (const j of jobs) j.start();
  for (;;) {
    let alive = 0;
    for (const j of jobs) {
      if (j.isAlive()) {
        alive += 1;
        await j.join(100);
        console.log(`Now running ${pool}`);
      }
    }
    if (alive === 0) break; // all done
  }
}
