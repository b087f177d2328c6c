// PyMOTW multiprocessing_simpleargs.py: arguments travel to the child by structured clone.
import { Process, isMainProcess } from 'multiproc';

export function worker(num) {
  console.log('Worker:', num);
}

if (isMainProcess()) {
  for (let i = 0; i < 5; i++) {
    new Process({ target: worker, args: [i] }).start();
  }
}
