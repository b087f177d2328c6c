// What a task's call is told: its result, the error it threw (rebuilt from
// the wire), or an error of ours naming the task (it could not be sent, its
// result could not be sent back, its worker died).
import { WorkerLostError, codedError } from '../base/errors';
import type { Process } from '../process/process';
import { serialize } from '../share/handles';
import { Status, TaskKind } from './protocol';
import { fromWire, type WireError } from '../base/remote_error';
import type { Task } from './task';

/** "work" / "work (input 3)" / "work (inputs 8 to 15)", for messages. */
export function describeTask(task: Task): string {
  const name = task.fn.def[1];
  if (task.kind === TaskKind.Apply) return name;
  return task.count === 1 ? `${name} (input ${task.index})` : `${name} (inputs ${task.index} to ${task.index + task.count - 1})`;
}

/** A task that cannot be sent: the encoder's error, its path told from the task's own arguments, not from inside the batch. */
export function unsendable(task: Task, e: unknown): Error {
  try {
    serialize(task.payload, task.kind === TaskKind.Apply ? 'args' : 'inputs');
  } catch (named) {
    if (named instanceof Error) {
      named.message = `cannot send ${describeTask(task)} to a worker: ${named.message}`;
      return named;
    }
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Hands a worker's answer for `task` to its call; `where` names the worker. */
export function deliver(task: Task, status: Status, value: unknown, where: string): void {
  if (status === Status.Ok) task.sink.taskDone(task, value);
  else if (status === Status.Void) task.sink.taskDone(task, undefined);
  else if (status === Status.Threw) task.sink.taskFailed(task, fromWire(value as WireError, where));
  else {
    const message = `the result of ${describeTask(task)} could not be sent back from the worker: ${(value as WireError).message}`;
    task.sink.taskFailed(task, codedError('ERR_MP_RESULT_NOT_CLONEABLE', message, { Type: TypeError }));
  }
}

/** The WorkerLostError of a task its worker held when it died (`running`: the one it ran, else one whose result it had not sent). */
export function lostError(
  process: Process,
  task: Task,
  how: string,
  running: boolean,
  details: { pid: number; exitCode: number | null; signal: string | null },
): WorkerLostError {
  const what = running ? 'while it ran' : 'before it sent the result of (it had finished)';
  return new WorkerLostError(
    `the pool's worker ${process.name} (pid ${details.pid}) ${how} ${what} ${describeTask(task)}` +
      (task.deaths > 1 ? ` (its worker died ${task.deaths} times)` : ''),
    { ...details, index: task.index },
  );
}
