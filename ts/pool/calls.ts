// The calls of a Pool as sinks of their tasks' outcomes: an apply (one
// task), and a map (tasks made lazily from its input, chunk by chunk, its
// results gathered in input order or handed on as they come).
import { AbortError, TimeoutError } from '../base/errors';
import { LongTimeout } from '../base/timers';
import type { CallSink, FnRef, Task } from './task';
import { Task as TaskRecord } from './task';
import { TaskKind } from './protocol';
import type { Backend } from './backend';

/** What every call takes: a deadline (ms from now), an AbortSignal, and how many worker deaths a task may survive. */
export interface CallLimits {
  timeout: number;
  signal: AbortSignal | undefined;
  retries: number;
}

/** The outcome of a call, once it has one. */
export abstract class Call<R> implements CallSink {
  readonly retries: number;
  finished = false;
  #ok = false;
  #value: R | undefined;
  #error: Error | undefined;
  readonly promise: Promise<R>;
  #resolve!: (value: R) => void;
  #reject!: (error: Error) => void;
  #timer: LongTimeout | undefined;
  readonly #timeout: number;
  /** When its timeout runs out (performance.now() ms; Infinity: none): a blocking pump stops there. */
  readonly deadline: number;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  /** `exposed`: the promise goes to the caller as it is (apply), who handles its rejection. */
  constructor(
    protected readonly backend: Backend,
    limits: CallLimits,
    exposed = false,
  ) {
    this.retries = limits.retries;
    backend.callBegan(this);
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A promise of ours that the caller sees only through an AsyncResult, an
    // iterator or a promise of its own is not an unhandled rejection.
    if (!exposed) this.promise.catch(() => {});
    this.#timeout = limits.timeout;
    this.deadline = limits.timeout === Infinity ? Infinity : performance.now() + limits.timeout;
    if (limits.timeout !== Infinity) this.#timer = new LongTimeout(() => this.expire(), limits.timeout);
    if (limits.signal) {
      this.#signal = limits.signal;
      this.#onAbort = () => this.stop(new AbortError(undefined, { cause: limits.signal!.reason }));
      limits.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get settled(): boolean {
    return this.finished;
  }

  /** Its timeout ran out: rejects with TimeoutError and stops its tasks. */
  expire(): void {
    this.stop(new TimeoutError(`the pool call did not finish within ${this.#timeout} ms: its tasks were stopped`));
  }

  /** For a blocking pump, which no abort event reaches: settled, or its signal was aborted (then stopped). */
  poll(): boolean {
    if (!this.finished && this.#signal?.aborted) this.#onAbort!();
    return this.finished;
  }

  /** Drives the pool on this thread until the call settles or its timeout runs out; its value, or throws. */
  settleSync(): R {
    if (!this.backend.pumpSync(() => this.poll(), this.deadline)) this.expire();
    return this.outcome();
  }

  get ok(): boolean {
    return this.#ok;
  }

  /** The value (settled and ok) or throws the error (settled, failed). */
  outcome(): R {
    if (this.#ok) return this.#value!;
    throw this.#error!;
  }

  protected resolve(value: R): void {
    if (this.finished) return;
    this.#end();
    this.#ok = true;
    this.#value = value;
    this.#resolve(value);
  }

  protected reject(error: Error): void {
    if (this.finished) return;
    this.#end();
    this.#error = error;
    this.#reject(error);
    this.cancelTasks(false);
    this.failed(error);
  }

  /** Wants nothing more, without an error (an imap loop was left): tasks not begun are dropped. */
  protected abandon(): void {
    if (this.finished) return;
    this.#end();
    this.cancelTasks(false);
  }

  /** A timeout or an abort: rejects, and stops the tasks that run. */
  stop(error: Error): void {
    if (this.finished) return;
    this.#end();
    this.#error = error;
    this.#reject(error);
    this.cancelTasks(true);
    this.failed(error);
  }

  /** Called once the call has failed (after its promise was rejected). */
  protected failed(_error: Error): void {}

  #end(): void {
    this.finished = true;
    this.backend.callEnded(this);
    this.#timer?.clear();
    if (this.#onAbort) this.#signal!.removeEventListener('abort', this.#onAbort);
  }

  /** Tells the backend the tasks of this call still out are not wanted; `stop`: kill the workers that run them. */
  protected abstract cancelTasks(stop: boolean): void;

  abstract taskDone(task: Task, value: unknown): void;

  taskFailed(_task: Task, error: Error): void {
    this.reject(error);
  }

  fail(error: Error): void {
    this.reject(error);
  }
}

export class ApplyCall<R> extends Call<R> {
  readonly #task: Task;

  constructor(backend: Backend, limits: CallLimits, fn: FnRef, args: unknown[], exposed: boolean) {
    super(backend, limits, exposed);
    this.#task = new TaskRecord(this, 0, 1, fn, TaskKind.Apply, args);
  }

  /** Hands the task to the backend (after the backlog has room, when maxQueue says so). */
  submit(maxQueue: number): void {
    if (maxQueue === Infinity) this.backend.submit(this.#task);
    else this.backend.whenRoom(maxQueue, () => !this.finished && this.backend.submit(this.#task));
  }

  taskDone(_task: Task, value: unknown): void {
    this.resolve(value as R);
  }

  protected cancelTasks(stop: boolean): void {
    this.backend.cancel(this.#task, stop);
  }
}
