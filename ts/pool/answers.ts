// The pool's result queue, read two ways: by an async reader that runs
// while tasks are out (and so keeps the program alive only then), and by a
// blocking pump for the Sync calls. Both hand each answer to `onMessage`.
import { Empty } from '../base/errors';
import { turnOfTheLoop } from '../base/timers';
import { Queue } from '../messaging/queue';
import { letGoNow } from '../shm/holds';
import type { ResultMessage } from './protocol';

// A blocking pump looks at the workers' lives between slices.
const SLICE_MS = 20;

export class Answers {
  readonly queue = new Queue<ResultMessage>();
  readonly #onMessage: (message: ResultMessage) => void;
  readonly #onFailure: (error: Error) => void;
  #reading = false;
  #wake = new AbortController();

  constructor(onMessage: (message: ResultMessage) => void, onFailure: (error: Error) => void) {
    this.#onMessage = onMessage;
    this.#onFailure = onFailure;
  }

  /** Hands on every answer already in the queue; how many. */
  drain(): number {
    let n = 0;
    while (this.queue.qsize() > 0) {
      let message: ResultMessage;
      try {
        message = this.queue.getNowait();
      } catch (e) {
        if (e instanceof Empty) break; // its lock stayed held (getNowait waited for it a while)
        throw e;
      }
      n++;
      this.#onMessage(message);
    }
    return n;
  }

  /**
   * Reads (one reader at a time) while `more()`, calling `after()` after
   * each batch of answers. An answer is taken and handed on in one
   * synchronous step (drain): one taken by an awaited get would be handed on
   * turns later, and a blocking pump begun in between (a mapSync right after
   * an await) would wait for it for ever. For the same reason nothing of it
   * runs in the turn that starts it (a pump's dispatch does).
   */
  async read(more: () => boolean, after: () => void): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      await Promise.resolve();
      while (more()) {
        if (this.queue.qsize() === 0) {
          try {
            await this.queue._whenReadable(this.#wake.signal);
          } catch (e) {
            if (!this.#wake.signal.aborted) throw e;
            this.#wake = new AbortController();
            continue;
          }
        }
        // Nothing taken though the queue holds answers (its lock was held): let the loop turn before trying again.
        if (this.drain() === 0) await turnOfTheLoop();
        after();
      }
    } catch (e) {
      // The pool can get no more answers: its calls fail (they would wait for ever).
      this.#onFailure(e instanceof Error ? e : new Error(String(e)));
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
