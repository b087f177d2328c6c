// Pool: Python's multiprocessing.Pool over worker processes (local.ts),
// with the calls of the SPEC: apply, map, imap, imapUnordered, starmap, in
// promise, blocking and AsyncResult forms.
import { AbortError, codedError } from '../base/errors';
import { cpuCount } from '../base/identity';
import { moduleUrl, resolveExport, type AnyFunction } from '../base/modules';
import { checkKeys, describe, isAsyncIterable, isIterable } from '../base/validate';
import { AsyncResult } from './async_result';
import { ApplyCall, type Call } from './calls';
import { LocalBackend } from './local';
import { backendFactory, type Backend } from './backend';
import { MapCall, type MapSpec } from './map_call';
import {
  checkCallOptions,
  checkPoolOptions,
  checkProcesses,
  mapOptions,
  type Callbacks,
  type MapOptions,
  type PoolOptions,
  type TaskOptions,
} from './options';
import { TaskKind } from './protocol';
import { knownLength, readAhead, sourceOf, type Input, type Source } from './inputs';
import type { FnRef } from './task';

// A map of an input of unknown length reads this many items to choose its chunksize.
const PREFETCH = 4096;
const MAP_KEYS = ['chunksize', 'onProgress'];
const CALLBACK_KEYS = ['callback', 'errorCallback'];

/** A task function: its parameters type the arguments, its (awaited) return type the result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFn = (...args: any[]) => unknown;

function withCallbacks<R>(call: Call<R>, rest: Record<string, unknown>): void {
  const { callback, errorCallback } = rest as Callbacks<R>;
  if (!callback && !errorCallback) return;
  // A callback that throws is an uncaught exception, as a throwing event listener's
  // is; a failed call with no errorCallback is only the AsyncResult's, as in Python.
  call.promise.then(callback, errorCallback ?? (() => {})).catch((e: unknown) =>
    queueMicrotask(() => {
      throw e;
    }),
  );
}

export class Pool {
  readonly #processes: number;
  readonly #backend: Backend;
  readonly #module: string | URL | undefined;
  readonly #moduleKey: string; // #refs' key for the pool's module
  readonly #maxQueue: number;
  readonly #refs = new WeakMap<AnyFunction, Map<string, FnRef>>();
  #fnCount = 0;
  #state: 'open' | 'closed' | 'terminated' = 'open';

  constructor(processes?: number | (PoolOptions & { processes?: number }), options?: PoolOptions) {
    // Python's keyword style, Pool(processes=4, initializer=...): one options object.
    const keywordStyle = typeof processes === 'object' && processes !== null && options === undefined;
    if (keywordStyle) ({ processes, ...options } = processes as PoolOptions & { processes?: number });
    this.#processes = checkProcesses(processes, cpuCount());
    const checked = checkPoolOptions(options, keywordStyle);
    this.#module = checked.module;
    this.#moduleKey = checked.module === undefined ? '' : moduleUrl(checked.module, 'the task function');
    this.#maxQueue = checked.maxQueue;
    let initializer: [string, string] | undefined;
    if (checked.initializer) {
      const r = resolveExport(checked.initializer, checked.module, 'the initializer', 'module', 'initializer');
      initializer = [r.module, r.exportName];
    }
    const type = checked.backend?.type ?? 'local';
    if (type === 'local') {
      if (checked.backend) checkKeys(checked.backend, ['type'], "Pool backend 'local'");
      this.#backend = new LocalBackend({
        processes: this.#processes,
        initializer,
        initargs: checked.initargs,
        maxTasksPerChild: checked.maxTasksPerChild,
        module: checked.module,
      });
    } else {
      const factory = backendFactory(type);
      if (!factory) throw new TypeError(`options.backend.type: no backend ${JSON.stringify(type)} (there are 'local' and 'bullmq')`);
      if (initializer || checked.maxTasksPerChild > 0)
        throw new TypeError(
          `options.initializer and maxTasksPerChild are for the local backend: a ${type} worker host has its own processes`,
        );
      this.#backend = factory(checked.backend as unknown as Record<string, unknown>, {
        processes: this.#processes,
        module: checked.module,
      });
    }
  }

  /** Number of worker processes. */
  get processes(): number {
    return this.#processes;
  }

  /** The pids of the workers now (a worker that died or was recycled is replaced by one with another pid). */
  get pids(): number[] {
    return this.#backend.pids;
  }

  // A backend that cannot block throws its reason here, before the Sync call submits anything.
  #requireBlocking(): void {
    if (!this.#backend.canBlock) this.#backend.pumpSync(() => true, 0);
  }

  #ref(fn: unknown, module: string | URL | undefined): FnRef {
    if (typeof fn !== 'function') throw new TypeError(`the task function must be a function, got ${describe(fn)}`);
    const where = module ?? this.#module;
    const key = module === undefined ? this.#moduleKey : moduleUrl(module, 'the task function');
    let byModule = this.#refs.get(fn);
    if (!byModule) this.#refs.set(fn, (byModule = new Map<string, FnRef>()));
    let ref = byModule.get(key);
    if (!ref) {
      const r = resolveExport(fn, where, 'the task function', 'module');
      ref = { id: ++this.#fnCount, def: [r.module, r.exportName] };
      byModule.set(key, ref);
    }
    return ref;
  }

  #requireOpen(): void {
    if (this.#state !== 'open')
      throw codedError('ERR_MP_POOL_CLOSED', `the pool is ${this.#state === 'closed' ? 'closed' : 'terminated'}: no new tasks`);
    const failure = this.#backend.failure;
    if (failure) throw codedError('ERR_MP_POOL_CLOSED', failure.message, { cause: failure });
  }

  #apply<R>(fn: unknown, args: unknown, options: unknown, what: string, extra: readonly string[], exposed = false): ApplyCall<R> {
    this.#requireOpen();
    if (args === undefined) args = [];
    if (!Array.isArray(args)) throw new TypeError(`${what}: args must be an array, got ${describe(args)}`);
    const { module, rest, ...limits } = checkCallOptions(options, what, extra);
    if (limits.signal?.aborted) throw new AbortError(undefined, { cause: limits.signal.reason });
    const call = new ApplyCall<R>(this.#backend, limits, this.#ref(fn, module), args, exposed);
    withCallbacks(call, rest);
    call.submit(this.#maxQueue);
    return call;
  }

  /** Runs fn(...args) in a worker; resolves with its result. */
  apply<F extends TaskFn>(fn: F, args?: Parameters<F>, options?: TaskOptions): Promise<Awaited<ReturnType<F>>> {
    try {
      return this.#apply<Awaited<ReturnType<F>>>(fn, args, options, 'Pool.apply', [], true).promise;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** apply() that blocks the thread until the result is there. */
  applySync<F extends TaskFn>(fn: F, args?: Parameters<F>, options?: TaskOptions): Awaited<ReturnType<F>> {
    this.#requireBlocking();
    return this.#apply<Awaited<ReturnType<F>>>(fn, args, options, 'Pool.applySync', []).settleSync();
  }

  /** apply() as Python's apply_async: an AsyncResult, and callbacks. */
  applyAsync<F extends TaskFn>(
    fn: F,
    args?: Parameters<F>,
    options?: TaskOptions & Callbacks<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>> {
    return new AsyncResult(this.#apply<Awaited<ReturnType<F>>>(fn, args, options, 'Pool.applyAsync', CALLBACK_KEYS), this.#backend);
  }

  #map<R>(
    fn: unknown,
    input: unknown,
    options: unknown,
    what: string,
    mode: MapSpec['mode'],
    kind: MapSpec['kind'],
    extra: readonly string[] = [],
  ): { call: MapCall<R>; start: () => void | Promise<void>; rest: Record<string, unknown> } {
    this.#requireOpen();
    const { module, rest, ...limits } = checkCallOptions(mapOptions(options), what, [...MAP_KEYS, ...extra]);
    const ref = this.#ref(fn, module);
    if (!isIterable(input) && !isAsyncIterable(input)) {
      throw new TypeError(`${what}: the inputs must be an iterable or an async iterable, got ${describe(input)}`);
    }
    if (limits.signal?.aborted) throw new AbortError(undefined, { cause: limits.signal.reason });
    const total = knownLength(input);
    const spec: MapSpec = {
      fn: ref,
      kind,
      chunksize: (rest.chunksize as number | undefined) ?? 0,
      mode,
      lookahead: 0,
      maxQueue: this.#maxQueue,
      total,
      onProgress: rest.onProgress as MapSpec['onProgress'],
    };
    const make = (source: Source, n: number | undefined): MapCall<R> => {
      if (spec.chunksize === 0) spec.chunksize = mode === 'gather' ? this.#chunksize(n) : 1;
      spec.lookahead = Math.max(256, spec.chunksize * this.#processes * 8);
      if (spec.total === undefined) spec.total = n;
      return new MapCall<R>(this.#backend, limits, spec, source);
    };
    // An async input of unknown length is not read ahead (a slow stream would
    // wait for thousands of items, and the call's timeout and signal with it):
    // one input a task unless chunksize says otherwise.
    if (spec.chunksize === 0 && total === undefined && !isIterable(input)) spec.chunksize = 1;
    if (spec.chunksize !== 0 || total !== undefined || mode !== 'gather') {
      const call = make(sourceOf(input), total);
      return { call, start: () => call.start(), rest };
    }
    // A map of unknown length: read ahead to choose the chunksize.
    const ahead = readAhead(input as Iterable<unknown>, PREFETCH);
    const call = make(ahead.source, ahead.n);
    return { call, start: () => call.start(), rest };
  }

  #chunksize(n: number | undefined): number {
    const count = n ?? PREFETCH;
    return Math.max(1, Math.ceil(count / (4 * this.#processes)));
  }

  /** fn(x) for every input, in a worker, chunksize inputs per task; resolves with the results in input order. */
  async map<T, R = unknown>(fn: (x: T) => R | Promise<R>, inputs: Input<T>, options?: number | MapOptions): Promise<R[]> {
    const m = this.#map<R>(fn, inputs, options, 'Pool.map', 'gather', TaskKind.Map);
    await m.start();
    return m.call.promise;
  }

  /** map() that blocks the thread (sync iterables only). */
  mapSync<T, R = unknown>(fn: (x: T) => R, inputs: Iterable<T>, options?: number | MapOptions): R[] {
    this.#requireBlocking();
    if (isAsyncIterable(inputs) && !isIterable(inputs)) throw new TypeError('Pool.mapSync: the inputs must be a sync iterable');
    const m = this.#map<R>(fn, inputs, options, 'Pool.mapSync', 'gather', TaskKind.Map);
    void m.start();
    return m.call.settleSync();
  }

  /** map() as Python's map_async: an AsyncResult, and callbacks. */
  mapAsync<T, R = unknown>(
    fn: (x: T) => R | Promise<R>,
    inputs: Iterable<T>,
    options?: number | (MapOptions & Callbacks<R[]>),
  ): AsyncResult<R[]> {
    if (isAsyncIterable(inputs) && !isIterable(inputs)) throw new TypeError('Pool.mapAsync: the inputs must be a sync iterable');
    const m = this.#map<R>(fn, inputs, options, 'Pool.mapAsync', 'gather', TaskKind.Map, CALLBACK_KEYS);
    void m.start();
    withCallbacks(m.call, m.rest);
    return new AsyncResult(m.call, this.#backend);
  }

  /** The results of fn over the inputs in input order, as they become available (chunksize default 1). */
  imap<T, R = unknown>(fn: (x: T) => R | Promise<R>, inputs: Input<T>, options?: number | MapOptions): AsyncIterableIterator<R> {
    const m = this.#map<R>(fn, inputs, options, 'Pool.imap', 'ordered', TaskKind.Map);
    void m.start();
    return m.call;
  }

  /** imap() in the order the results come. */
  imapUnordered<T, R = unknown>(fn: (x: T) => R | Promise<R>, inputs: Input<T>, options?: number | MapOptions): AsyncIterableIterator<R> {
    const m = this.#map<R>(fn, inputs, options, 'Pool.imapUnordered', 'unordered', TaskKind.Map);
    void m.start();
    return m.call;
  }

  /** fn(...args) for every array of arguments. */
  async starmap<F extends TaskFn>(
    fn: F,
    inputs: Input<Parameters<F>>,
    options?: number | MapOptions,
  ): Promise<Array<Awaited<ReturnType<F>>>> {
    const m = this.#map<Awaited<ReturnType<F>>>(fn, inputs, options, 'Pool.starmap', 'gather', TaskKind.Starmap);
    await m.start();
    return m.call.promise;
  }

  /** starmap() as Python's starmap_async. */
  starmapAsync<F extends TaskFn, R = Awaited<ReturnType<F>>>(
    fn: F,
    inputs: Iterable<Parameters<F>>,
    options?: number | (MapOptions & Callbacks<R[]>),
  ): AsyncResult<R[]> {
    if (isAsyncIterable(inputs) && !isIterable(inputs)) throw new TypeError('Pool.starmapAsync: the inputs must be a sync iterable');
    const m = this.#map<R>(fn, inputs, options, 'Pool.starmapAsync', 'gather', TaskKind.Starmap, CALLBACK_KEYS);
    void m.start();
    withCallbacks(m.call, m.rest);
    return new AsyncResult(m.call, this.#backend);
  }

  /** No new tasks; the workers exit once the queued ones are done. */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    this.#backend.close();
  }

  /** Stops the workers now: pending and running tasks reject. */
  terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#backend.terminate(codedError('ERR_MP_POOL_CLOSED', 'the pool was terminated before the task finished'));
  }

  /** After close() or terminate(): resolves once every worker has exited. */
  async join(): Promise<void> {
    if (this.#state === 'open') throw new Error('Pool.join() needs close() or terminate() first');
    await this.#backend.join();
  }

  /** close() and join() (`await using pool = new Pool()`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  get [Symbol.toStringTag](): string {
    return 'Pool';
  }
}
