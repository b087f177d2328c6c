// The pool's side of the shared words (protocol.ts): per worker index, the
// seq of the task it took last, whether it is ready, and the cancel words.
import { letGoNow } from '../shm/holds';
import { RawArray, type SharedArray } from '../values/shared_array';
import { MAX_WINDOW, SLOT, SLOT_WORDS } from './protocol';

export class Words {
  /** What the workers are given. */
  readonly array: SharedArray<'i'>;
  readonly #view: Int32Array;

  constructor(indexes: number) {
    this.array = RawArray('i', indexes * SLOT_WORDS);
    this.#view = this.array.view;
  }

  /** The seq of the task the worker at `index` took last. */
  started(index: number): number {
    return Atomics.load(this.#view, index * SLOT_WORDS + SLOT.started);
  }

  ready(index: number): boolean {
    return Atomics.load(this.#view, index * SLOT_WORDS + SLOT.ready) === 1;
  }

  /** Before a new worker takes `index`. */
  resetReady(index: number): void {
    Atomics.store(this.#view, index * SLOT_WORDS + SLOT.ready, 0);
  }

  /**
   * Tells the worker at `index` to skip task `seq` (sent, not yet taken);
   * whether it had taken it already (then it may run it: see protocol.ts).
   */
  cancel(index: number, seq: number): boolean {
    Atomics.store(this.#view, index * SLOT_WORDS + SLOT.cancel + (seq % MAX_WINDOW), seq);
    return this.started(index) === seq;
  }

  /** Whether the worker at `index` finished task `seq` (the last it took). */
  finished(index: number, seq: number): boolean {
    return Atomics.load(this.#view, index * SLOT_WORDS + SLOT.finished) === seq;
  }

  /** Every worker is gone: this process gives the words up now. */
  close(): void {
    letGoNow(this.array);
  }
}
