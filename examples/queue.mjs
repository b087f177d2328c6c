// PyMOTW multiprocessing_queue.py: pass an object to a worker through a Queue.
// (Structured clone carries data, not classes: the worker rebuilds the object.)
import { Process, Queue, currentProcess, isMainProcess } from 'multiproc';

export class MyFancyClass {
  constructor(name) {
    this.name = name;
  }

  doSomething() {
    const procName = currentProcess().name;
    console.log(`Doing something fancy in ${procName} for ${this.name}!`);
  }
}

export async function worker(q) {
  const obj = Object.assign(Object.create(MyFancyClass.prototype), await q.get());
  obj.doSomething();
}

if (isMainProcess()) {
  const queue = new Queue();
  const p = new Process({ target: worker, args: [queue] });
  p.start();
  await queue.put(new MyFancyClass('Fancy Dan'));
  await p.join();
}
