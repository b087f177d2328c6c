// PyMOTW multiprocessing_names.py: processes have names; unnamed ones are numbered.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, currentProcess, isMainProcess } from 'multiproc';

export async function worker() {
  const name = currentProcess().name;
  console.log(name, 'Starting');
  await sleep(200);
  console.log(name, 'Exiting');
}

export async function myService() {
  const name = currentProcess().name;
  console.log(name, 'Starting');
  await sleep(300);
  console.log(name, 'Exiting');
}

if (isMainProcess()) {
  const service = new Process({ name: 'my_service', target: myService });
  const worker1 = new Process({ name: 'worker 1', target: worker });
  const worker2 = new Process({ target: worker }); // default name
  worker1.start();
  worker2.start();
  service.start();
}
