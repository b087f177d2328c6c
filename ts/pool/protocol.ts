// What a Pool and its workers say to each other, and the shared words they
// both read. Each worker has a task queue of its own (so the pool knows
// exactly which tasks each worker holds); all workers answer on one result
// queue. Tasks of a worker are numbered by the pool (seq, from 1), and the
// worker runs them in that order, one at a time.
//
// Shared words (one RawArray('i') per pool, SLOT_WORDS per worker):
//   [started]        the seq of the task this worker last took (stored
//                    before it runs it): at its death, it held that task
//                    and those before it whose results it had not sent.
//   [ready]          1 once the worker ran its initializer and waits for
//                    tasks (a worker that dies before is a failed start).
//   [finished]       the seq of the task it last finished (its answer is
//                    held or sent): a cancelled task that finished is not
//                    stopped by killing its worker.
//   [cancel + seq % MAX_WINDOW]
//                    seq, when the pool cancelled that task (a timeout or
//                    an abort) before the worker took it: the worker skips it.
// The pool never has more than MAX_WINDOW tasks out at one worker, so the
// cancel words of the tasks out are distinct. The worker stores `started`
// and then loads the cancel word; the pool stores the cancel word and then
// loads `started` (both sequentially consistent): at least one of them sees
// the other's store, so a cancelled task is either skipped or killed.
import type { WireError } from '../base/remote_error';

/** Most tasks out at one worker at once. */
export const MAX_WINDOW = 64;
export const SLOT = { started: 0, ready: 1, finished: 2, cancel: 3 } as const;
export const SLOT_WORDS = SLOT.cancel + MAX_WINDOW;

/** What a task asks the worker to do with its payload. */
export const TaskKind = {
  /** fn(...payload) */
  Apply: 0,
  /** payload.map((x) => fn(x)) */
  Map: 1,
  /** payload.map((args) => fn(...args)) */
  Starmap: 2,
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

/**
 * A task: [seq, fnId, kind, payload, definition]. The definition (module
 * URL, export name) comes with the first task of each function a worker
 * sees; later ones name the function by fnId alone. Tasks travel in batches
 * (one queue item: the tasks sent to a worker at once); null tells the
 * worker to leave.
 */
export type TaskMessage = [number, number, TaskKind, unknown, [string, string] | 0];
export type TaskBatch = TaskMessage[] | null;

// Batches and answers whose every value JSON carries exactly travel as their
// JSON text (a string is copied into the ring as it is, and one
// JSON.parse reads it): structured clone, with its scan for shared objects,
// costs ~1.8 us a task where this costs ~0.3. Others travel as objects.

/** What a worker answers. */
export const Status = {
  Ok: 0,
  Threw: 1,
  /** Cancelled before it began: not run. */
  Skipped: 2,
  /** The result could not be sent (not cloneable): the value is a WireError. */
  Unsendable: 3,
  /** Returned undefined (which JSON has not). */
  Void: 4,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** [seq, status, value (result, results of a chunk, or a WireError), microseconds the task ran]. */
export type ResultEntry = [number, Status, unknown, number];
/**
 * [worker index, entries in the order run]. A worker holds its results
 * until its batch is done or FLUSH_MS have passed since the oldest one it
 * holds: a task is held by the worker until its result is sent.
 */
export type ResultMessage = [number, ResultEntry[]] | string;
export const FLUSH_MS = 0.1;

export type { WireError };

/** What a worker is started with, beside its queues and the shared words. */
export interface WorkerConfig {
  index: number;
  /** [module URL, export name] of the initializer, if any. */
  initializer: [string, string] | undefined;
  initargs: unknown[];
  /** Tasks before the worker leaves (maxTasksPerChild); 0: no limit. */
  maxTasks: number;
}
