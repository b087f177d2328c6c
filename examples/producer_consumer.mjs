// PyMOTW multiprocessing_producer_consumer.py: consumers take tasks from a
// JoinableQueue until a poison pill (null) arrives, and put results on a Queue.
import { setTimeout as sleep } from 'node:timers/promises';
import { JoinableQueue, Process, Queue, cpuCount, isMainProcess } from 'multiproc';

export class Consumer extends Process {
  constructor(taskQueue, resultQueue) {
    super();
    this.taskQueue = taskQueue;
    this.resultQueue = resultQueue;
  }

  async run() {
    const procName = this.name;
    for (;;) {
      const nextTask = await this.taskQueue.get();
      if (nextTask === null) {
        // Poison pill means shutdown
        console.log(`${procName}: Exiting`);
        this.taskQueue.taskDone();
        break;
      }
      console.log(`${procName}: ${nextTask.a} * ${nextTask.b}`);
      await sleep(100); // pretend to take time to do the work
      const answer = `${nextTask.a} * ${nextTask.b} = ${nextTask.a * nextTask.b}`;
      this.taskQueue.taskDone();
      await this.resultQueue.put(answer);
    }
  }
}

if (isMainProcess()) {
  const tasks = new JoinableQueue();
  const results = new Queue();
  const numConsumers = cpuCount() * 2;
  console.log(`Creating ${numConsumers} consumers`);
  const consumers = Array.from({ length: numConsumers }, () => new Consumer(tasks, results));
  for (const w of consumers) w.start();

  let numJobs = 10;
  for (let i = 0; i < numJobs; i++) await tasks.put({ a: i, b: i });
  for (let i = 0; i < numConsumers; i++) await tasks.put(null);

  await tasks.join();
  while (numJobs) {
    console.log('Result:', await results.get());
    numJobs -= 1;
  }
}
