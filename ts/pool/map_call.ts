// A map over a pool: its input read lazily, chunksize items a task, never
// more than `lookahead` items read and not yet consumed (an infinite
// generator works with imap; a map of ten million items does not hold ten
// million tasks). Results are gathered in input order (map), handed on in
// input order (imap) or as they come (imapUnordered).
import { describe } from '../base/validate';
import { Call, type CallLimits } from './calls';
import { Deque } from './deque';
import type { Backend } from './backend';
import { TaskKind } from './protocol';
import type { Source } from './inputs';
import { Task, type FnRef } from './task';

export interface MapSpec {
  fn: FnRef;
  kind: typeof TaskKind.Map | typeof TaskKind.Starmap;
  chunksize: number;
  /** gather into an array (map), or stream in order (imap) or as done (imapUnordered) */
  mode: 'gather' | 'ordered' | 'unordered';
  /** Items read ahead of what is consumed. */
  lookahead: number;
  /** The backlog the pool allows (maxQueue). */
  maxQueue: number;
  /** Items in the input, when known. */
  total: number | undefined;
  onProgress: ((done: number, total: number | undefined) => void) | undefined;
}

export class MapCall<R> extends Call<R[]> implements AsyncIterableIterator<R> {
  readonly #spec: MapSpec;
  readonly #source: Source;
  readonly #tasks = new Set<Task>();
  #read = 0;
  #consumed = 0;
  #done = 0;
  #exhausted = false;
  #pulling = false;
  #roomWanted = false;
  readonly #gathered: R[] = [];
  readonly #ready = new Map<number, R[]>(); // ordered: finished chunks by their first index
  #next = 0; // ordered: the next index to hand on
  readonly #out = new Deque<R>();
  readonly #consumers: Array<{ resolve: (r: IteratorResult<R>) => void; reject: (e: Error) => void }> = [];
  #failure: Error | undefined;
  // imap: the first error by input position, raised once the results before it are handed on (as Python's imap does).
  #errorAt: { index: number; error: Error } | undefined;

  constructor(backend: Backend, limits: CallLimits, spec: MapSpec, source: Source) {
    super(backend, limits);
    this.#spec = spec;
    this.#source = source;
  }

  /** Starts reading the input. */
  start(): void {
    this.#pull();
  }

  #wantMore(): boolean {
    return (
      !this.#exhausted &&
      this.#errorAt === undefined &&
      !this.finished &&
      this.#read - this.#consumed < this.#spec.lookahead &&
      (this.#spec.maxQueue === Infinity || this.backend.backlog < this.#spec.maxQueue)
    );
  }

  #pull(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    if (!this.#source.sync) {
      void this.#pullAsync(this.#source.it);
      return;
    }
    try {
      const it = this.#source.it;
      while (this.#wantMore()) {
        const chunk: unknown[] = [];
        while (chunk.length < this.#spec.chunksize) {
          const r = it.next();
          if (r.done) {
            this.#exhausted = true;
            break;
          }
          chunk.push(r.value);
        }
        if (chunk.length > 0) this.#submit(chunk);
      }
    } catch (e) {
      this.#failAt(this.#read, e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#pulling = false;
    }
    this.#waitForRoom();
    this.#settleIfDone();
  }

  async #pullAsync(it: AsyncIterator<unknown>): Promise<void> {
    try {
      while (this.#wantMore()) {
        const chunk: unknown[] = [];
        while (chunk.length < this.#spec.chunksize) {
          const r = await it.next();
          if (r.done) {
            this.#exhausted = true;
            break;
          }
          chunk.push(r.value);
        }
        if (chunk.length > 0 && !this.finished) this.#submit(chunk);
      }
    } catch (e) {
      this.#failAt(this.#read, e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#pulling = false;
    }
    this.#waitForRoom();
    this.#settleIfDone();
  }

  // Stopped by a full backlog (maxQueue): read on once it has room.
  #waitForRoom(): void {
    if (this.#roomWanted || this.#spec.maxQueue === Infinity || this.#exhausted || this.finished || this.#errorAt !== undefined) return;
    if (this.backend.backlog < this.#spec.maxQueue) return;
    this.#roomWanted = true;
    this.backend.whenRoom(this.#spec.maxQueue, () => {
      this.#roomWanted = false;
      this.#pull();
    });
  }

  #submit(chunk: unknown[]): void {
    if (this.#spec.kind === TaskKind.Starmap) {
      for (let i = 0; i < chunk.length; i++) {
        const args = chunk[i];
        if (Array.isArray(args)) continue;
        if (args === null || typeof (args as Iterable<unknown>)[Symbol.iterator] !== 'function') {
          throw new TypeError(`starmap's inputs must be arrays of arguments; input ${this.#read + i} is ${describe(args)}`);
        }
        chunk[i] = Array.from(args as Iterable<unknown>);
      }
    }
    const task = new Task(this, this.#read, chunk.length, this.#spec.fn, this.#spec.kind, chunk);
    this.#read += chunk.length;
    this.#tasks.add(task);
    this.backend.submit(task);
  }

  /** imap raises an error where it happened, after the results before it; the others at once. */
  #failAt(index: number, error: Error): void {
    if (this.#spec.mode !== 'ordered') return this.reject(error);
    if (this.#errorAt === undefined || index < this.#errorAt.index) this.#errorAt = { index, error };
    this.#raiseIfDue();
  }

  #raiseIfDue(): void {
    if (this.#errorAt !== undefined && this.#next >= this.#errorAt.index) this.reject(this.#errorAt.error);
  }

  override taskFailed(task: Task, error: Error): void {
    this.#tasks.delete(task);
    this.#failAt(task.index, error);
  }

  taskDone(task: Task, value: unknown): void {
    this.#tasks.delete(task);
    if (this.#errorAt !== undefined && task.index > this.#errorAt.index) return; // past the error: not wanted
    const values = value as R[];
    this.#done += values.length;
    if (this.#spec.onProgress) {
      const { onProgress, total } = this.#spec;
      const done = this.#done;
      try {
        onProgress(done, total);
      } catch (e) {
        queueMicrotask(() => {
          throw e; // the program's error, as a throwing listener's; the map goes on
        });
      }
    }
    if (this.#spec.mode === 'gather') {
      for (let i = 0; i < values.length; i++) this.#gathered[task.index + i] = values[i]!;
      this.#consumed += values.length;
    } else if (this.#spec.mode === 'unordered') {
      for (const v of values) this.#out.push(v);
    } else {
      this.#ready.set(task.index, values);
      for (let chunk = this.#ready.get(this.#next); chunk; chunk = this.#ready.get(this.#next)) {
        this.#ready.delete(this.#next);
        for (const v of chunk) this.#out.push(v);
        this.#next += chunk.length;
      }
      this.#raiseIfDue();
    }
    this.#hand();
    this.#pull();
  }

  #settleIfDone(): void {
    if (!this.#exhausted || this.#tasks.size > 0 || this.#pulling || this.finished) return;
    if (this.#spec.mode === 'gather') this.resolve(this.#gathered);
    else if (this.#out.length === 0) {
      this.resolve([]);
      this.#hand();
    }
  }

  protected cancelTasks(stop: boolean): void {
    for (const task of this.#tasks) this.backend.cancel(task, stop);
    this.#tasks.clear();
  }

  protected override failed(error: Error): void {
    this.#failure = error;
    this.#hand();
  }

  // Hands what is ready to waiting consumers, and the end (or the error) once there is no more.
  #hand(): void {
    while (this.#consumers.length > 0) {
      if (this.#out.length > 0) {
        this.#consumed++;
        this.#consumers.shift()!.resolve({ value: this.#out.shift()!, done: false });
      } else if (this.#failure) {
        const error = this.#failure;
        for (const c of this.#consumers.splice(0)) c.reject(error);
      } else if (this.finished) {
        for (const c of this.#consumers.splice(0)) c.resolve({ value: undefined, done: true });
      } else return;
    }
    if (this.#out.length === 0) this.#settleIfDone();
  }

  next(): Promise<IteratorResult<R>> {
    if (this.#out.length > 0) {
      this.#consumed++;
      const value = this.#out.shift()!;
      this.#pull();
      return Promise.resolve({ value, done: false });
    }
    if (this.#failure) {
      const error = this.#failure;
      this.#failure = undefined; // thrown once; then the iterator is done
      this.#out.drain();
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    const result = new Promise<IteratorResult<R>>((resolve, reject) => this.#consumers.push({ resolve, reject }));
    this.#pull();
    this.#settleIfDone();
    return result;
  }

  /** Leaving a for-await loop: what is left is dropped (tasks not begun are not run). */
  return(): Promise<IteratorResult<R>> {
    this.abandon();
    this.#out.drain();
    for (const c of this.#consumers.splice(0)) c.resolve({ value: undefined, done: true });
    if (!this.#source.sync) void this.#source.it.return?.();
    else this.#source.it.return?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
