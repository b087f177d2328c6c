// One unit of work of a Pool call, as the pool's backend sees it: a
// function, a payload (the arguments of an apply, or a chunk of a map), and
// where its result goes.
import type { TaskKind } from './protocol';

/** A task function as workers find it: a number per pool, and where it is exported. */
export interface FnRef {
  readonly id: number;
  /** [module URL, export name] */
  readonly def: [string, string];
}

/** What a call (an apply, a map ...) does with the outcomes of its tasks. */
export interface CallSink {
  /** Deaths of its worker a task may survive (the call's `retries`). */
  readonly retries: number;
  /** True once the call wants nothing more (settled, timed out, aborted, its loop left): its tasks are dropped. */
  readonly finished: boolean;
  /** A task returned (for a chunk, the array of its results). */
  taskDone(task: Task, value: unknown): void;
  /** A task threw, or could not run or be sent, or its worker died holding it. */
  taskFailed(task: Task, error: Error): void;
  /** The whole call fails (the pool was terminated). */
  fail(error: Error): void;
}

export type TaskState = 'queued' | 'out' | 'done';

export class Task {
  /** The task's number at the worker it is out at (0: not out). */
  seq = 0;
  /** Index of the worker it is out at (-1: none). */
  worker = -1;
  /** Deaths of workers that held it. */
  deaths = 0;
  state: TaskState = 'queued';

  constructor(
    readonly sink: CallSink,
    /** Index of its first input in the call (0 for an apply). */
    readonly index: number,
    /** Inputs it covers (1 for an apply). */
    readonly count: number,
    readonly fn: FnRef,
    readonly kind: TaskKind,
    readonly payload: unknown,
  ) {}
}
