// A Pool worker: the target of each worker process. It takes its tasks from
// its own queue in order, notes each one in the shared words before it runs
// it (protocol.ts), and answers on the pool's result queue. One task at a
// time; an async task function is awaited. While idle the event loop
// turns (messaging/taker.ts), and the worker ignores SIGINT: at a
// Ctrl-C the terminal signals the whole process group, and the parent, not
// its workers, decides what happens (they die with it).
import { importExport } from '../base/modules';
import { jsonText } from '../messaging/encoding';
import { Taker } from '../messaging/taker';
import { serialize } from '../share/handles';
import type { Queue } from '../messaging/queue';
import type { SharedArray } from '../values/shared_array';
import {
  FLUSH_MS,
  MAX_WINDOW,
  SLOT,
  SLOT_WORDS,
  Status,
  TaskKind,
  type ResultEntry,
  type ResultMessage,
  type TaskBatch,
  type TaskMessage,
  type WorkerConfig,
} from './protocol';
import { toWire } from '../base/remote_error';
import { isThenable } from '../base/validate';

type AnyFn = (...args: unknown[]) => unknown;

function missing(what: string) {
  return (ref: { module: string; exportName: string }): Error =>
    new TypeError(
      `cannot find the ${what}: ${ref.module} has no export named "${ref.exportName}" in the pool's worker. ` +
        'Workers import the module by URL and look the function up by its export name: export it from that module, ' +
        'or pass { module } naming the module that exports it.',
    );
}

async function load(def: [string, string], what: string): Promise<AnyFn> {
  const value = await importExport({ module: def[0], exportName: def[1] }, missing(what));
  if (typeof value !== 'function') throw new TypeError(`the ${what} "${def[1]}" exported by ${def[0]} is not a function`);
  return value as AnyFn;
}

function run(fn: AnyFn, kind: TaskKind, payload: unknown): unknown {
  if (kind === TaskKind.Apply) return fn(...(payload as unknown[]));
  const items = payload as unknown[];
  const out = new Array<unknown>(items.length);
  let pending = false;
  for (let i = 0; i < items.length; i++) {
    out[i] = kind === TaskKind.Map ? fn(items[i]) : fn(...(items[i] as unknown[]));
    if (isThenable(out[i])) pending = true;
  }
  return pending ? Promise.all(out) : out;
}

// An answer as JSON text (protocol.ts), or undefined when a value needs structured clone.
function entriesText(index: number, entries: ResultEntry[]): string | undefined {
  let text = `[${index},[`;
  for (let i = 0; i < entries.length; i++) {
    const [seq, status, value, us] = entries[i];
    let valueText: string | undefined;
    if (value === undefined) {
      valueText = 'null';
      if (status === Status.Ok) entries[i][1] = Status.Void;
    } else valueText = jsonText(value);
    if (valueText === undefined) return undefined;
    text += `${i === 0 ? '' : ','}[${seq},${entries[i][1]},${valueText},${us}]`;
  }
  return text + ']]';
}

// The encoder's error for a value alone, its path told from the result itself ("result.cb is a function").
function pathOf(value: unknown): unknown {
  try {
    serialize(value, 'result');
  } catch (e) {
    return e;
  }
  return undefined;
}

export async function poolWorker(
  tasks: Queue<TaskBatch | string>,
  results: Queue<ResultMessage>,
  words: SharedArray<'i'>,
  config: WorkerConfig,
): Promise<void> {
  process.on('SIGINT', () => {});
  const view = words.view;
  const base = config.index * SLOT_WORDS;
  const { index } = config;
  if (config.initializer) {
    try {
      await (
        await load(config.initializer, 'initializer')
      )(...config.initargs);
    } catch (e) {
      // Told to the pool (seq 0: no task), which names it in the calls' error; the worker then fails to start.
      results.putSync([index, [[0, Status.Threw, toWire(e), 0]]]);
      throw e;
    }
  }
  Atomics.store(view, base + SLOT.ready, 1);
  const defs = new Map<number, [string, string]>();
  const fns = new Map<number, AnyFn>();
  const taker = new Taker(tasks);
  let done = 0;
  let held: ResultEntry[] = [];
  let lastTaken = 0; // the seq of the last task it took (and did not skip)
  const meanUs = new Map<number, number>(); // a task function's mean run time, per input
  let heldSince = 0;
  const flush = (): void => {
    if (held.length === 0) return;
    const entries = held;
    held = [];
    const text = entriesText(index, entries);
    try {
      results.putSync(text ?? [index, entries]);
    } catch {
      // One of them cannot be cloned: send them one by one, that one as an error.
      for (const entry of entries) {
        try {
          results.putSync([index, [entry]]);
        } catch (e) {
          results.putSync([index, [[entry[0], Status.Unsendable, toWire(pathOf(entry[2]) ?? e), entry[3]]]]);
        }
      }
    }
  };
  for (;;) {
    if (tasks.qsize() === 0) flush();
    const item = await taker.take();
    if (item === null) break;
    const batch = typeof item === 'string' ? (JSON.parse(item) as TaskMessage[]) : item;
    for (let i = 0; i < batch.length; i++) {
      const [seq, fnId, kind, payload, def] = batch[i];
      if (def !== 0) defs.set(fnId, def);
      Atomics.store(view, base + SLOT.started, seq);
      if (Atomics.load(view, base + SLOT.cancel + (seq % MAX_WINDOW)) === seq) {
        // Not taken after all: `started` names the last task it did take again,
        // so that its death is told of the right one.
        Atomics.store(view, base + SLOT.started, lastTaken);
        held.push([seq, Status.Skipped, null, 0]);
        // It counts: the pool sent this worker its maxTasks and sends no more.
        if (config.maxTasks > 0 && ++done >= config.maxTasks) {
          flush();
          return;
        }
        continue;
      }
      lastTaken = seq;
      // A task that may take a while does not keep results finished before it
      // waiting (nor lose them, should it be stopped): those go first.
      const inputs = kind === TaskKind.Apply ? 1 : Math.max(1, (payload as unknown[]).length);
      const perInputUs = meanUs.get(fnId);
      if (held.length > 0 && (perInputUs === undefined || perInputUs * inputs > FLUSH_MS * 1000)) flush();
      const t0 = performance.now();
      if (held.length === 0) heldSince = t0;
      let status: Status = Status.Ok;
      let value: unknown;
      try {
        let fn = fns.get(fnId);
        if (!fn) {
          const known = defs.get(fnId);
          if (!known) throw new Error(`internal error: task function ${fnId} was never defined to this worker`);
          flush();
          fn = await load(known, 'task function');
          fns.set(fnId, fn);
        }
        value = run(fn, kind, payload);
        if (isThenable(value)) {
          flush(); // what it holds does not wait for an async task
          value = await value;
        }
      } catch (e) {
        status = Status.Threw;
        value = toWire(e);
      }
      const t1 = performance.now();
      const us = Math.round((t1 - t0) * 1000);
      const perInput = us / inputs;
      meanUs.set(fnId, (perInputUs ?? perInput) * 0.75 + perInput * 0.25);
      held.push([seq, status, value, us]);
      Atomics.store(view, base + SLOT.finished, seq);
      if (t1 - heldSince >= FLUSH_MS || i === batch.length - 1) flush();
      if (config.maxTasks > 0 && ++done >= config.maxTasks) {
        flush();
        return;
      }
    }
  }
  flush();
}
