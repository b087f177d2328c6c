// The next batch of tasks for a worker: taken from the front of the
// backlog, numbered, and written as JSON text when every payload is
// JSON-exact (protocol.ts), else as an array for structured clone.
import { jsonText } from '../messaging/encoding';
import type { Deque } from './deque';
import type { TaskMessage } from './protocol';
import type { Task } from './task';
import type { Worker } from './worker_slot';

const MAX_SEQ = 0x3fffffff;

/** The seq after `seq` (they wrap, staying positive: only equality is ever asked of them). */
export const nextSeq = (seq: number): number => (seq >= MAX_SEQ ? 1 : seq + 1);

export interface Batch {
  tasks: Task[];
  /** The queue item. */
  item: string | TaskMessage[];
  /** The seq of its last task. */
  lastSeq: number;
  /** Functions defined to the worker by this batch. */
  newFns: number[];
}

/**
 * Takes up to `n` tasks for `worker` off the backlog (skipping those whose
 * calls finished, stopping where the worker's `maxTasks` ends), numbered
 * after `seq`. The caller sends the item, or puts the tasks back.
 */
export function takeBatch(queued: Deque<Task>, worker: Worker, n: number, seq: number, maxTasks: number): Batch {
  const tasks: Task[] = [];
  const batch: TaskMessage[] = [];
  const newFns: number[] = [];
  let text: string | undefined = '['; // the batch as JSON text while every payload fits
  while (tasks.length < n && queued.length > 0) {
    const task = queued.shift()!;
    if (task.sink.finished) {
      task.state = 'done';
      continue;
    }
    if (maxTasks > 0 && worker.dispatched + tasks.length >= maxTasks) {
      queued.unshift(task);
      break;
    }
    seq = nextSeq(seq);
    const first = !worker.known.has(task.fn.id) && !newFns.includes(task.fn.id);
    if (first) newFns.push(task.fn.id);
    if (text !== undefined) {
      const payload = jsonText(task.payload);
      text =
        payload === undefined
          ? undefined
          : `${text}${tasks.length === 0 ? '' : ','}[${seq},${task.fn.id},${task.kind},${payload},${first ? JSON.stringify(task.fn.def) : 0}]`;
    }
    batch.push([seq, task.fn.id, task.kind, task.payload, first ? task.fn.def : 0]);
    tasks.push(task);
  }
  return { tasks, item: text === undefined ? batch : text + ']', lastSeq: seq, newFns };
}
