// PyMOTW multiprocessing_get_logger.py: the logger's level can be set directly.
import { Process, getLogger, isMainProcess, logToStderr } from 'multiproc';

export function worker() {
  console.log('Doing some work');
}

if (isMainProcess()) {
  logToStderr();
  const logger = getLogger();
  logger.setLevel('info');
  const p = new Process({ target: worker });
  p.start();
  await p.join();
}
