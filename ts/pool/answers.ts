// The pool's result queue, read two ways: by an async reader that runs
// while tasks are out (and so keeps the program alive only then), and by a
// blocking pump for the Sync calls. Both hand each answer to `onMessage`.
import { Empty } from '../base/errors';
import { getLogger } from '../base/logging';
import { Queue } from '../messaging/queue';
import { letGoNow } from '../shm/holds';
import type { ResultMessage } from './protocol';

// A blocking pump looks at the workers' lives between slices.
const SLICE_MS = 20;

export class Answers {
  readonly queue = new Queue<ResultMessage>();
  readonly #onMessage: (message: ResultMessage) => void;
  #reading = false;
  #wake = new AbortController();

  constructor(onMessage: (message: ResultMessage) => void) {
    this.#onMessage = onMessage;
  }

  /** Hands on every answer already in the queue. */
  drain(): void {
    while (this.queue.qsize() > 0) {
      let message: ResultMessage;
      try {
        message = this.queue.getNowait();
      } catch (e) {
        if (e instanceof Empty) return;
        throw e;
      }
      this.#onMessage(message);
    }
  }

  /** Reads (one reader at a time) while `more()`, calling `after()` after each batch of answers. */
  async read(more: () => boolean, after: () => void): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (more()) {
        if (this.queue.qsize() === 0) {
          let message: ResultMessage;
          try {
            message = await this.queue.get({ signal: this.#wake.signal });
          } catch (e) {
            if (!this.#wake.signal.aborted) throw e;
            this.#wake = new AbortController();
            continue;
          }
          this.#onMessage(message);
        }
        this.drain();
        after();
      }
    } catch (e) {
      getLogger().error(`pool: reading results failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#reading = false;
    }
  }

  /** The reader's pending wait ends, so that it looks at `more()` again. */
  wake(): void {
    this.#wake.abort();
  }

  /**
   * Blocks this thread, reading, until `done()` or the deadline
   * (performance.now() ms): `before()` runs before each wait, `idle()` after
   * a slice with nothing. Whether done.
   */
  pumpSync(done: () => boolean, deadline: number, before: () => void, idle: () => void): boolean {
    for (;;) {
      before();
      if (done()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      let message: ResultMessage;
      try {
        message = this.queue.getSync(Math.min(left, SLICE_MS));
      } catch (e) {
        if (!(e instanceof Empty)) throw e;
        idle();
        continue;
      }
      this.#onMessage(message);
      this.drain();
    }
  }

  /** Every worker is gone: this process gives up the queue now. */
  close(): void {
    this.queue.close();
    letGoNow(this.queue);
  }
}
