// PyMOTW multiprocessing_subclass.py: override run() in an exported subclass.
import { Process, isMainProcess } from 'multiproc';

export class Worker extends Process {
  run() {
    console.log(`In ${this.name}`);
  }
}

if (isMainProcess()) {
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    const p = new Worker();
    jobs.push(p);
    p.start();
  }
  for (const j of jobs) await j.join();
}
