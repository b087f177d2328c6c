// PyMOTW multiprocessing_condition.py: stage_2 processes wait until stage_1
// says its work is done. (The original relies on sleeping long enough for
// the waiters to start; waitFor() on a shared flag makes the port immune to
// a slow start.)
import { setTimeout as sleep } from 'node:timers/promises';
import { Condition, Process, Value, currentProcess, isMainProcess } from 'multiproc';

export async function stage1(cond, done) {
  const name = currentProcess().name;
  console.log('Starting', name);
  await cond.acquire();
  console.log(`${name} done and ready for stage 2`);
  done.value = 1;
  cond.notifyAll();
  cond.release();
}

export async function stage2(cond, done) {
  const name = currentProcess().name;
  console.log('Starting', name);
  await cond.acquire();
  await cond.waitFor(() => done.value === 1);
  console.log(`${name} running`);
  cond.release();
}

if (isMainProcess()) {
  const condition = new Condition();
  const done = new Value('i', 0);
  const s1 = new Process({ name: 's1', target: stage1, args: [condition, done] });
  const s2Clients = [1, 2].map((i) => new Process({ name: `stage_2[${i}]`, target: stage2, args: [condition, done] }));
  for (const c of s2Clients) {
    c.start();
    await sleep(200);
  }
  s1.start();
  await s1.join();
  for (const c of s2Clients) await c.join();
}
