// The local backend of a Pool: its worker processes, which tasks each one
// holds, and what happens when one dies. Pool calls hand it Tasks; it sends
// each to a worker's own queue (at most `window` out at a worker), reads the
// answers from the one result queue, and tells each task's call.
//
// Attribution (protocol.ts, attribution.ts): a worker runs its tasks in the
// order sent and stores each one's seq before running it. When it dies, the
// pool first takes every answer it sent (they are in shared memory); then,
// of the tasks still out at it, the one whose seq it stored and those before
// it (finished, results not sent yet) are the ones it held: they fail with
// WorkerLostError (or are sent again, within `retries`); the others had not
// begun and go back to the front of the backlog.
import type { Backend } from './backend';
import { constants } from 'node:os';
import { Full, ProcessError, codedError } from '../base/errors';
import { getLogger } from '../base/logging';
import { demandSpares } from '../process/spares';
import { Answers } from './answers';
import { settleDead } from './attribution';
import { nextSeq, takeBatch } from './batch';
import { Deque } from './deque';
import { deliver, lostError, unsendable } from './outcomes';
import { MAX_WINDOW, Status, type ResultEntry, type ResultMessage } from './protocol';
import { fromWire, type WireError } from '../base/remote_error';
import type { CallSink, Task } from './task';
import { spawnWorker, type Worker } from './worker_slot';
import { Words } from './words';

// Work queued at one worker behind the task it runs, in microseconds of
// measured task time: enough to hide a hand-off, little enough that a
// worker that is free finds work still unsent.
const WINDOW_BUDGET_US = 400;
const MIN_WINDOW = 2;
// Workers that die before they can take a task, in a row, before the pool gives up on starting more.
const MAX_FAILED_STARTS = 3;

export interface LocalOptions {
  processes: number;
  initializer: [string, string] | undefined;
  initargs: unknown[];
  maxTasksPerChild: number;
  /** The module task functions come from, if not the main script (spares preload it). */
  module: string | URL | undefined;
}

export class LocalBackend implements Backend {
  readonly #options: LocalOptions;
  readonly #answers = new Answers(
    (message) => this.#onResult(message),
    (error) => {
      getLogger().error(`pool: reading results failed: ${error.message}`);
      this.terminate(codedError('ERR_MP_INTERNAL', `the pool could not read its results: ${error.message}`, { cause: error }));
    },
  );
  readonly #words: Words;
  readonly #workers: Array<Worker | undefined>;
  readonly #seqs: number[];
  readonly #queued = new Deque<Task>();
  readonly #exits = new Set<Promise<void>>(); // of the workers not yet gone (a recycling pool starts many)
  #out = 0;
  #taskUs = 50; // moving average of a task's run time
  #state: 'open' | 'closing' | 'terminated' = 'open';
  #failedStarts = 0;
  #killedBooting = 0; // workers killed by a signal before they were ready, in a row
  #startError: Error | undefined; // what the last initializer that failed threw
  #onRoom: Array<() => void> = [];
  #handling = 0; // > 0 while answers are handed to their calls

  constructor(options: LocalOptions) {
    this.#options = options;
    // Room for a replacement beside each retiring worker, and one more.
    const indexes = 2 * options.processes + 1;
    this.#words = new Words(indexes);
    this.#workers = new Array<Worker | undefined>(indexes).fill(undefined);
    this.#seqs = new Array<number>(indexes).fill(0);
    // Recycled workers are replaced by spares started ahead of time: no stall while one boots.
    if (options.maxTasksPerChild > 0) demandSpares(options.processes, options.module);
    for (let i = 0; i < options.processes; i++) this.#startWorker();
  }

  #spares = true; // the spares demanded are still counted

  #releaseSpares(): void {
    if (!this.#spares) return;
    this.#spares = false;
    if (this.#options.maxTasksPerChild > 0) demandSpares(-this.#options.processes);
  }

  readonly #live = new Set<CallSink>(); // calls made and not finished

  get #calls(): number {
    return this.#live.size;
  }

  /** A call begins: while any is unfinished, close() keeps the workers for it, and terminate() rejects it. */
  callBegan(call: CallSink): void {
    this.#live.add(call);
  }

  /** A call finished (settled, stopped, its loop left). */
  callEnded(call: CallSink): void {
    if (this.#live.delete(call) && this.#live.size === 0 && this.#state === 'closing') this.#dispatch();
  }

  /** Tasks submitted and not yet sent to a worker. */
  readonly canBlock = true;
  readonly failure = undefined;

  get backlog(): number {
    return this.#queued.length;
  }

  /** Live workers (the pool's processes, not counting those that are leaving). */
  get pids(): number[] {
    return this.#workers.filter((w) => w && !w.exited && !w.retiring && !w.stopping).map((w) => w!.process.pid!);
  }

  submit(task: Task): void {
    if (this.#state === 'terminated') throw codedError('ERR_MP_POOL_CLOSED', 'the pool was terminated');
    this.#queued.push(task);
    // After the pool gave up on workers that failed to start (their calls were
    // rejected), a new call tries again.
    if (!this.#workers.some((w) => w && !w.exited && !w.stopping)) this.#refill();
    // Tasks submitted together (a loop of apply() calls, the next chunks a
    // map reads while answers are handled) go out together: at the end of
    // this turn, or once the answers are handled.
    if (this.#handling === 0 && !this.#soon) {
      this.#soon = true;
      queueMicrotask(this.#dispatchSoon);
    }
  }

  #soon = false;
  readonly #reading = (): boolean => this.#out > 0 && this.#state !== 'terminated';
  readonly #afterAnswers = (): void => this.#dispatch();
  readonly #dispatchSoon = (): void => {
    this.#soon = false;
    this.#dispatch();
  };

  /** Calls `fn` once the backlog is below `limit` (now, if it is). */
  whenRoom(limit: number, fn: () => void): void {
    if (this.#queued.length < limit) fn();
    else this.#onRoom.push(() => this.whenRoom(limit, fn));
  }

  /**
   * A call no longer wants `task` (its sink is finished): dropped from the
   * backlog when there, skipped by its worker when sent but not begun, and,
   * when `stop` and its worker runs it now, stopped by killing that worker.
   */
  cancel(task: Task, stop: boolean): void {
    if (task.state !== 'out') return; // queued ones are dropped as they come up
    const worker = this.#workers[task.worker];
    if (!worker || worker.exited) return;
    // Killing the worker stops the task only while it runs: one that finished (its answer on its way) is left be.
    if (this.#words.cancel(worker.index, task.seq) && stop && !this.#words.finished(worker.index, task.seq)) {
      getLogger().debug(`stopping ${worker.process.name}: its task was cancelled`);
      worker.process.kill();
    }
  }

  #window(): number {
    return Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.ceil(WINDOW_BUDGET_US / Math.max(this.#taskUs, 0.5))));
  }

  #dispatch(): void {
    if (this.#state === 'terminated') return;
    const window = this.#window();
    while (this.#queued.length > 0) {
      let best: Worker | undefined;
      let free = 0;
      for (const w of this.#workers) {
        if (!w || w.exited || w.retiring || w.stopping || w.full || w.out.length + w.stolen.size >= window) continue;
        free++;
        // A worker still booting takes work only when no ready one has room (a replacement boots for ~100 ms).
        const rank = (x: Worker): number => x.out.length + (this.#words.ready(x.index) ? 0 : MAX_WINDOW);
        if (!best || rank(w) < rank(best)) best = w;
      }
      if (!best) break;
      // Its share of the backlog, in one queue item.
      const room = window - best.out.length;
      const share = Math.max(1, Math.min(room, Math.ceil(this.#queued.length / free)));
      if (this.#sendBatch(best, share) === 0 && !best.full) continue;
    }
    if (this.#queued.length === 0) this.#steal();
    if (this.#state === 'closing') this.#stopIdle();
    if (this.#onRoom.length > 0) {
      const waiting = this.#onRoom;
      this.#onRoom = [];
      for (const fn of waiting) fn();
    }
    if (this.#out > 0) void this.#answers.read(this.#reading, this.#afterAnswers);
  }

  // Sends up to `n` tasks of the backlog to `worker` as one batch; how many it sent.
  #sendBatch(worker: Worker, n: number): number {
    const index = worker.index;
    const firstSeq = this.#seqs[index];
    const { tasks, item, lastSeq, newFns } = takeBatch(this.#queued, worker, n, firstSeq, this.#options.maxTasksPerChild);
    if (tasks.length === 0) return 0;
    try {
      worker.tasks.putNowait(item);
    } catch (e) {
      for (let i = tasks.length - 1; i >= 0; i--) this.#queued.unshift(tasks[i]);
      if (e instanceof Full) {
        worker.full = true;
        return 0;
      }
      // Something in it cannot be sent (not cloneable): find which, fail it, send the others.
      if (tasks.length > 1) {
        let sent = 0;
        for (let i = 0; i < tasks.length; i++) sent += this.#sendBatch(worker, 1);
        return sent;
      }
      const task = this.#queued.shift()!;
      task.state = 'done';
      task.sink.taskFailed(task, unsendable(task, e));
      return 0;
    }
    this.#seqs[index] = lastSeq;
    for (const id of newFns) worker.known.add(id);
    let seq = firstSeq;
    for (const task of tasks) {
      seq = nextSeq(seq);
      task.seq = seq;
      task.worker = index;
      task.state = 'out';
      worker.out.push(task);
    }
    this.#out += tasks.length;
    worker.dispatched += tasks.length;
    if (this.#options.maxTasksPerChild > 0 && worker.dispatched >= this.#options.maxTasksPerChild) {
      // It leaves after these tasks: its replacement boots meanwhile.
      worker.retiring = true;
      if (this.#state !== 'terminated') this.#startWorker();
    }
    return tasks.length;
  }

  // A worker with nothing out takes back the last unbegun task of a busy
  // one (long tasks near the end of a map would otherwise wait behind
  // another while this worker idles).
  #steal(): void {
    for (const idle of this.#workers) {
      if (!idle || idle.exited || idle.retiring || idle.stopping || idle.out.length > 0) continue;
      for (const busy of this.#workers) {
        if (!busy || busy === idle || busy.exited || busy.out.length < 2) continue;
        const task = busy.out.at(busy.out.length - 1)!;
        if (this.#words.cancel(busy.index, task.seq)) continue; // begun: it answers for it
        busy.out.pop();
        busy.stolen.add(task.seq);
        this.#out--;
        task.state = 'queued';
        this.#queued.unshift(task);
        this.#sendBatch(idle, 1);
        break;
      }
    }
  }

  #startWorker(): void {
    const index = this.#workers.indexOf(undefined);
    if (index < 0) return; // every index in use: the next exit starts one
    this.#words.resetReady(index);
    const worker = spawnWorker(this.#answers.queue, this.#words.array, {
      index,
      initializer: this.#options.initializer,
      initargs: this.#options.initargs,
      maxTasks: this.#options.maxTasksPerChild,
    });
    this.#workers[index] = worker;
    const exited: Promise<void> = worker.process._whenExited().then(() => {
      this.#onExit(worker);
      this.#exits.delete(exited);
    });
    this.#exits.add(exited);
  }

  #onResult(message: ResultMessage): void {
    const [index, entries] = typeof message === 'string' ? (JSON.parse(message) as [number, ResultEntry[]]) : message;
    const worker = this.#workers[index];
    if (!worker) return;
    this.#handling++;
    try {
      for (const entry of entries) {
        try {
          this.#onEntry(worker, entry);
        } catch (e) {
          // A call's own code (an onProgress callback) threw: the answers go on; the error is the program's.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    } finally {
      this.#handling--;
    }
  }

  #onEntry(worker: Worker, [seq, status, value, us]: ResultEntry): void {
    if (seq === 0) {
      // Its initializer threw: it exits, a failed start.
      this.#startError = fromWire(value as WireError, `the initializer of ${worker.process.name}, pid ${worker.process.pid}`);
      return;
    }
    if (worker.stolen.delete(seq)) return; // the Skipped answer of a task taken back
    const task = worker.out.peek();
    if (!task || task.seq !== seq) {
      // A bug of ours, never to pass unseen: the call of that task would wait for ever.
      const message = `internal error: ${worker.process.name} answered task ${seq}, not the one expected (${task?.seq})`;
      getLogger().error(message);
      process.emitWarning(message, 'MultiprocWarning');
      return;
    }
    worker.out.shift();
    worker.full = false;
    this.#out--;
    task.worker = -1;
    if (status === Status.Skipped) {
      if (task.sink.finished) task.state = 'done';
      else {
        task.state = 'queued';
        this.#queued.unshift(task);
      }
      return;
    }
    task.state = 'done';
    this.#taskUs += (us / task.count - this.#taskUs) / 8;
    if (task.sink.finished) return;
    deliver(task, status, value, `${worker.process.name}, pid ${worker.process.pid}`);
  }

  /** Runs the pool on this thread until `done()` or the deadline (ms, performance.now()); whether done. */
  pumpSync(done: () => boolean, deadline: number): boolean {
    return this.#answers.pumpSync(
      done,
      deadline,
      () => this.#dispatch(),
      () => {
        for (const w of this.#workers) if (w && !w.exited && !w.process.isAlive()) this.#onExit(w);
      },
    );
  }

  #onExit(worker: Worker): void {
    if (worker.exited) return;
    worker.exited = true;
    this.#answers.drain();
    const started = this.#words.started(worker.index);
    const ready = this.#words.ready(worker.index);
    const code = worker.process.exitCode;
    const signal = code !== null && code < 0 ? (Object.entries(constants.signals).find(([, n]) => n === -code)?.[0] ?? null) : null;
    const exitCode = code !== null && code >= 0 ? code : null;
    const expected = worker.stopping || (worker.retiring && worker.out.length === 0);
    const out = worker.out.drain();
    this.#out -= out.length;
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    const back = settleDead(out, ready ? started : undefined, (task, running) =>
      lostError(worker.process, task, how, running, { pid: worker.process.pid!, exitCode, signal }),
    );
    for (let i = back.length - 1; i >= 0; i--) {
      back[i].state = 'queued';
      this.#queued.unshift(back[i]);
    }
    worker.discardQueue();
    this.#workers[worker.index] = undefined;
    if (!expected) {
      getLogger().warn(
        `pool: ${worker.process.name} (pid ${worker.process.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}`,
      );
    }
    // A worker that ends by itself before it is ready failed to start (its
    // main script or initializer threw, exited); one killed by a signal
    // meanwhile (by someone else) did not, and is simply replaced.
    // One killed by a signal while it booted (by someone else, or the OOM killer
    // at start) is replaced, each time a little later (10 ms, 20 ms ... 1 s)
    // while it keeps happening, rather than failing the calls.
    if (!ready && !worker.stopping && exitCode !== null) this.#failedStarts++;
    else if (ready) {
      this.#failedStarts = 0;
      this.#startError = undefined;
    }
    this.#killedBooting = !ready && !worker.stopping && exitCode === null ? this.#killedBooting + 1 : 0;
    if (this.#failedStarts >= MAX_FAILED_STARTS) {
      this.#failedStarts = 0;
      const startError = this.#startError;
      this.#startError = undefined;
      this.#failBacklog(
        startError
          ? new ProcessError(`the pool's workers cannot start: their initializer threw ${startError.name}: ${startError.message}`, {
              cause: startError,
            })
          : new ProcessError(
              `the pool's workers exit before they can run a task (the last: ${signal ?? `exit code ${exitCode}`}); ` +
                'see their stderr: the main script fails in a worker',
            ),
      );
    } else if (this.#state !== 'terminated' && (this.#state === 'open' || this.#queued.length > 0 || this.#calls > 0)) {
      // Back to `processes` workers (a retiring one's replacement may not have found a free index when it retired).
      if (this.#killedBooting > 2) {
        this.#refillLater(Math.min(1000, 10 * 2 ** (this.#killedBooting - 3)));
      } else this.#refill();
    }
    this.#answers.wake();
    this.#dispatch();
  }

  // Replacements due later (workers killed while booting): join() waits for them while there is work.
  #refillDue: { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } | undefined;

  #refillLater(ms: number): void {
    this.#cancelRefill();
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => {
      this.#cancelRefill();
      this.#refill();
    }, ms);
    if (this.#calls === 0) timer.unref();
    this.#refillDue = { timer, done, resolve };
  }

  #cancelRefill(): void {
    if (!this.#refillDue) return;
    clearTimeout(this.#refillDue.timer);
    this.#refillDue.resolve();
    this.#refillDue = undefined;
  }

  #refill(): void {
    if (this.#state === 'terminated') return;
    // Closing with nothing left to do: no new workers (after join() they could not even start: their queues are gone).
    if (this.#state === 'closing' && this.#queued.length === 0 && this.#calls === 0) return;
    while (this.pids.length < this.#options.processes && this.#workers.includes(undefined)) this.#startWorker();
  }

  #failBacklog(error: Error): void {
    for (const task of this.#queued.drain()) {
      task.state = 'done';
      if (!task.sink.finished) task.sink.taskFailed(task, error);
    }
  }

  // Closing: a worker with nothing out and nothing left to send is told to stop.
  #stopIdle(): void {
    // A call still running may submit more (an imap reads its input as it is consumed).
    if (this.#queued.length > 0 || this.#calls > 0) return;
    for (const w of this.#workers) {
      if (!w || w.exited || w.stopping || w.out.length > 0) continue;
      w.stopping = true;
      try {
        w.tasks.putNowait(null);
      } catch {
        w.process.kill();
      }
    }
  }

  /** No new tasks; the workers leave once the backlog is done. */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#releaseSpares();
    this.#dispatch();
  }

  /** Stops every worker now; what is pending fails with `error`. */
  terminate(error: Error): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#cancelRefill();
    this.#releaseSpares();
    this.#failBacklog(error);
    for (const w of this.#workers) {
      if (!w || w.exited) continue;
      w.stopping = true;
      for (const task of w.out.drain()) {
        this.#out--;
        task.state = 'done';
        if (!task.sink.finished) task.sink.taskFailed(task, error);
      }
      w.process.kill();
    }
    // Calls that hold no task now (a map waiting for room, or between chunks) fail too.
    for (const call of [...this.#live]) call.fail(error);
    this.#onRoom = [];
    this.#answers.wake();
  }

  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** Resolves once every worker has exited (after close() or terminate()). */
  async join(): Promise<void> {
    for (;;) {
      const live = this.#workers.filter((w): w is Worker => w !== undefined && !w.exited);
      if (live.length === 0) {
        // Work left and its workers due later: they finish it first.
        const due = this.#refillDue;
        if (due && (this.#queued.length > 0 || this.#calls > 0)) {
          await due.done;
          continue;
        }
        this.#cancelRefill();
        break;
      }
      await Promise.all(live.map((w) => w.process.join()));
      for (const w of live) this.#onExit(w);
    }
    await Promise.all([...this.#exits]);
    // Every worker is gone: nothing else can hold these any more.
    this.#answers.close();
    this.#words.close();
  }
}
