// PyMOTW multiprocessing_daemon_join.py: join() waits for the daemon too.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, currentProcess, isMainProcess } from 'multiproc';

export async function daemon() {
  const p = currentProcess();
  console.log('Starting:', p.name);
  await sleep(2000); // PyMOTW: time.sleep(2)
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
  await sleep(1000); // PyMOTW: time.sleep(1); the daemon is still sleeping when the other ends
  n.start();
  await d.join();
  await n.join();
}
