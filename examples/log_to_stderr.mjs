// PyMOTW multiprocessing_log_to_stderr.py: multiproc logs its lifecycle; the child
// inherits the logging setup.
import { Process, isMainProcess, logToStderr } from 'multiproc';

export function worker() {
  console.log('Doing some work');
}

if (isMainProcess()) {
  logToStderr('debug');
  const p = new Process({ target: worker });
  p.start();
  await p.join();
}
