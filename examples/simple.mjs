// PyMOTW multiprocessing_simple.py: five processes, each prints "Worker".
import { Process, isMainProcess } from 'multiproc';

export function worker() {
  console.log('Worker');
}

if (isMainProcess()) {
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    const p = new Process({ target: worker });
    jobs.push(p);
    p.start();
  }
}
