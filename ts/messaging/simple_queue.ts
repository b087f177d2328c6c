// SimpleQueue: Python's unbounded queue with the essential methods, over a Queue.
import { inspect } from 'node:util';
import { describe, type AsyncOptions, type SyncOptions } from '../base/validate';
import { registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { Queue, reopenQueue, type QueueOptions } from './queue';

/** Python's SimpleQueue: an unbounded queue with the essential methods. */
export class SimpleQueue<T = unknown> implements Shareable {
  readonly #queue: Queue<T>;

  constructor(options?: QueueOptions, queue?: Queue<T>) {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError(`SimpleQueue options must be an object, got ${describe(options)}`);
    }
    this.#queue = queue ?? new Queue<T>(0, options);
  }

  put(item: T, options?: AsyncOptions | number): Promise<void> {
    return this.#queue.put(item, options);
  }

  putSync(item: T, options?: SyncOptions | number): void {
    this.#queue.putSync(item, options);
  }

  get(options?: AsyncOptions | number): Promise<T> {
    return this.#queue.get(options);
  }

  getSync(options?: SyncOptions | number): T {
    return this.#queue.getSync(options);
  }

  empty(): boolean {
    return this.#queue.empty();
  }

  /** This process uses it no more (Python's close()). */
  close(): void {
    this.#queue.close();
  }

  /** For every process: see Queue.shutdown(). */
  shutdown(options?: { immediate?: boolean }): void {
    this.#queue.shutdown(options);
  }

  [toHandle](): HandleData {
    return { kind: 'SimpleQueue', queue: this.#queue[toHandle]() };
  }

  get [Symbol.toStringTag](): string {
    return 'SimpleQueue';
  }

  [inspect.custom](): string {
    return `SimpleQueue { ${this.#queue.empty() ? 'empty' : 'not empty'} }`;
  }
}

registerHandleKind('SimpleQueue', (data) => new SimpleQueue(undefined, reopenQueue(Queue, data.queue as HandleData)));
