// PyMOTW multiprocessing_daemon.py: the daemon is killed when the main process
// exits, so it never prints "Exiting".
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, currentProcess, isMainProcess } from 'multiproc';

export async function daemon() {
  const p = currentProcess();
  console.log('Starting:', p.name, p.pid);
  await sleep(2000);
  console.log('Exiting :', p.name, p.pid);
}

export function nonDaemon() {
  const p = currentProcess();
  console.log('Starting:', p.name, p.pid);
  console.log('Exiting :', p.name, p.pid);
}

if (isMainProcess()) {
  const d = new Process({ name: 'daemon', target: daemon });
  d.daemon = true;
  const n = new Process({ name: 'non-daemon', target: nonDaemon });
  n.daemon = false;
  d.start();
  await sleep(200);
  n.start();
}
