// A Pool worker as the pool's backend sees it: its process, its queue of
// tasks, the tasks out at it in the order sent, and where it is in its life.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from '../messaging/queue';
import { Process } from '../process/process';
import { letGoNow } from '../shm/holds';
import type { SharedArray } from '../values/shared_array';
import { Deque } from './deque';
import type { ResultMessage, TaskBatch, WorkerConfig } from './protocol';
import type { Task } from './task';
import { poolWorker } from './worker';

const WORKER_MODULE = pathToFileURL(path.join(__dirname, 'worker.js')).href;
let workerNumber = 0;

export class Worker {
  readonly out = new Deque<Task>();
  /** Functions this worker was told about. */
  readonly known = new Set<number>();
  /** Seqs of tasks taken back (stolen) while out: their Skipped answers are expected. */
  readonly stolen = new Set<number>();
  dispatched = 0;
  /** Sent its last task (maxTasksPerChild): leaves by itself; not counted among the pool's workers. */
  retiring = false;
  /** Told to stop (close, terminate). */
  stopping = false;
  /** Its queue had no room: not sent to until it answers. */
  full = false;
  exited = false;

  constructor(
    readonly index: number,
    readonly process: Process,
    readonly tasks: Queue<TaskBatch | string>,
  ) {}

  /** Takes what is left in a dead worker's queue (so handles in it give back what they reserved) and closes it. */
  discardQueue(): void {
    const tasks = this.tasks;
    try {
      while (tasks.qsize() > 0) tasks.getNowait();
    } catch {
      // an undecodable leftover: nothing of it can be given back
    }
    tasks.close();
    letGoNow(tasks);
  }
}

/** Starts a worker process over a new task queue of its own. */
export function spawnWorker(results: Queue<ResultMessage>, words: SharedArray<'i'>, config: WorkerConfig): Worker {
  const tasks = new Queue<TaskBatch | string>();
  const process = new Process({
    target: poolWorker,
    args: [tasks, results, words, config],
    daemon: true,
    name: `PoolWorker-${++workerNumber}`,
    module: WORKER_MODULE,
  });
  process.start();
  return new Worker(config.index, process, tasks);
}
