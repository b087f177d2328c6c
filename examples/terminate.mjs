// PyMOTW multiprocessing_terminate.py: terminate() sends SIGTERM; join() afterwards
// collects the exit status. Process objects print like Python's.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, isMainProcess } from 'multiproc';

export async function slowWorker() {
  console.log('Starting worker');
  await sleep(100);
  console.log('Finished worker');
}

if (isMainProcess()) {
  const p = new Process({ target: slowWorker });
  console.log('BEFORE:', p, p.isAlive());
  p.start();
  console.log('DURING:', p, p.isAlive());
  p.terminate();
  console.log('TERMINATED:', p, p.isAlive());
  await p.join();
  console.log('JOINED:', p, p.isAlive());
}
