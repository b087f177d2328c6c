// Which tasks a dead worker held (protocol.ts): of the tasks out at it, in
// the order sent, the one whose seq it stored last as begun (it ran it) and
// those before it (finished, their results not sent yet); the ones after it
// had not begun.
import type { Task } from './task';

/**
 * Settles the tasks that were out at a dead worker: each one it held fails
 * (`lost` makes the error) unless its call allows one more death
 * (`retries`); the one it ran fails first, so a map rejects with that one.
 * Returns the tasks to send again, in their order.
 * `started`: the seq it stored last, undefined if it was not ready.
 */
export function settleDead(out: Task[], started: number | undefined, lost: (task: Task, running: boolean) => Error): Task[] {
  const running = started === undefined ? -1 : out.findIndex((t) => t.seq === started);
  const held = running < 0 ? [] : [running, ...out.keys()].filter((i, k) => k === 0 || (i !== running && i < running));
  for (const i of held) {
    const task = out[i];
    if (task.sink.finished) continue;
    if (++task.deaths <= task.sink.retries) continue;
    task.state = 'done';
    task.sink.taskFailed(task, lost(task, i === running));
  }
  const back: Task[] = [];
  for (const task of out) {
    task.worker = -1;
    if (task.sink.finished || task.state === 'done') task.state = 'done';
    else back.push(task);
  }
  return back;
}
