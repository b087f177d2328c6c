// PyMOTW multiprocessing_daemon_join_timeout.py: join(timeout) returns while the
// daemon still runs; it is killed when the main process exits.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, currentProcess, isMainProcess } from 'multiproc';

export async function daemon() {
  const p = currentProcess();
  console.log('Starting:', p.name);
  await sleep(3000);
  console.log('Exiting :', p.name);
}

export function nonDaemon() {
  const p = currentProcess();
  console.log('Starting:', p.name);
  console.log('Exiting :', p.name);
}

if (isMainProcess()) {
  const d = new Process({ name: 'daemon', target: daemon, daemon: true });
  const n = new Process({ name: 'non-daemon', target: nonDaemon });
  d.start();
  n.start();
  await d.join(1000);
  console.log('d.isAlive()', d.isAlive());
  await n.join();
}
