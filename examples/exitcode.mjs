// PyMOTW multiprocessing_exitcode.py: 0 when the target returns, 1 when it throws
// (its stack goes to stderr), n for process.exit(n), -N when killed by signal N.
import { setTimeout as sleep } from 'node:timers/promises';
import { Process, isMainProcess } from 'multiproc';

export function exitError() {
  process.exit(1);
}

export function exitOk() {}

export function returnValue() {
  return 1;
}

export function raises() {
  throw new Error('There was an error!');
}

export async function terminated() {
  await sleep(3000);
}

if (isMainProcess()) {
  const jobs = [];
  for (const f of [exitError, exitOk, returnValue, raises, terminated]) {
    console.log('Starting process for', f.name);
    const j = new Process({ target: f, name: f.name });
    jobs.push(j);
    j.start();
  }
  jobs.at(-1).terminate();
  for (const j of jobs) {
    await j.join();
    console.log(`${j.name.padStart(15)}.exitCode = ${j.exitCode}`);
  }
}
