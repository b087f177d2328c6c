// PyMOTW's SimpleMapReduce over a Pool: map the inputs in the workers,
// partition the [key, value] pairs by key, reduce each partition in the
// workers. Each map chunk combines its pairs by key in the worker first, so
// a word count sends each word once per chunk, not once per occurrence.
// Keys are compared as Map keys (===): use strings or numbers, since an
// object key arrives as a copy.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveExport, type AnyFunction } from '../base/modules';
import { checkProcesses } from './options';
import { Pool } from './pool';
import { mapChunk, reduceChunk } from './mapreduce_tasks';
import { cpuCount } from '../base/identity';
import { checkKeys, describe } from '../base/validate';

const TASKS = pathToFileURL(path.join(__dirname, 'mapreduce_tasks.js')).href;

export interface MapReduceOptions {
  processes?: number;
  /** The module mapFn and reduceFn are exported from (default: the main script). */
  module?: string | URL;
}

export class SimpleMapReduce<I, K, V, R> {
  readonly #pool: Pool;
  readonly #mapRef: [string, string];
  readonly #reduceRef: [string, string];

  constructor(
    mapFn: (input: I) => Iterable<[K, V]> | Promise<Iterable<[K, V]>>,
    reduceFn: (item: [K, V[]]) => R | Promise<R>,
    options: MapReduceOptions = {},
  ) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['processes', 'module'], 'SimpleMapReduce');
    const m = resolveExport(mapFn as AnyFunction, options.module, 'the map function', 'module');
    const r = resolveExport(reduceFn, options.module, 'the reduce function', 'module');
    this.#mapRef = [m.module, m.exportName];
    this.#reduceRef = [r.module, r.exportName];
    this.#pool = new Pool(checkProcesses(options.processes, cpuCount()), { module: TASKS });
  }

  /** Maps, partitions and reduces; the reductions in the order their keys first appeared. */
  async run(inputs: Iterable<I> | AsyncIterable<I>, options: { chunksize?: number } = {}): Promise<R[]> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['chunksize'], 'SimpleMapReduce.run');
    const chunksize = options.chunksize ?? 1;
    if (typeof chunksize !== 'number' || !Number.isInteger(chunksize) || chunksize < 1)
      throw new RangeError(`options.chunksize must be a positive integer, got ${describe(chunksize)}`);
    const partitions = new Map<K, V[]>();
    const chunks = this.#chunks(inputs, chunksize);
    for await (const groups of this.#pool.imap(mapChunk, chunks, { chunksize: 1, module: TASKS }) as AsyncIterable<Array<[K, V[]]>>) {
      for (const [key, values] of groups) {
        const p = partitions.get(key);
        if (p) for (const v of values) p.push(v);
        else partitions.set(key, values);
      }
    }
    const items = [...partitions];
    const per = Math.max(1, Math.ceil(items.length / (4 * this.#pool.processes)));
    const batches: Array<[[string, string], Array<[K, V[]]>]> = [];
    for (let i = 0; i < items.length; i += per) batches.push([this.#reduceRef, items.slice(i, i + per)]);
    const reduced = await this.#pool.starmap(reduceChunk, batches, { chunksize: 1 });
    return reduced.flat() as R[];
  }

  async *#chunks(inputs: Iterable<I> | AsyncIterable<I>, size: number): AsyncGenerator<[[string, string], I[]]> {
    let chunk: I[] = [];
    for await (const input of inputs) {
      chunk.push(input);
      if (chunk.length >= size) {
        yield [this.#mapRef, chunk];
        chunk = [];
      }
    }
    if (chunk.length > 0) yield [this.#mapRef, chunk];
  }

  async close(): Promise<void> {
    this.#pool.close();
    await this.#pool.join();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
