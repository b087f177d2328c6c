// A process whose work arrives on one queue (a Pool worker, a manager's
// server) takes it with this. Idle, it blocks in the addon's wait (a spin,
// then a futex: an item put begins within microseconds), and lets its
// event loop turn every `sliceMs` meanwhile, so timers and I/O still run.
//
// The partner usually answers a result with the next item within
// microseconds (an apply() loop, a proxy's calls): then spinning for it
// spares both sides a futex wake-up (~10 us each on a VM). When the partner
// is the slow side (a map keeping every worker busy), a spin only takes the
// CPU the partner needs: after a spin that caught nothing, the next 1, 2, 4
// ... 64 waits do not spin.
import { Empty } from '../base/errors';
import { turnOfTheLoop } from '../base/timers';
import { eventLoopSpinMs } from '../wait/wait';
import type { Queue } from './queue';

export class Taker<T> {
  readonly #queue: Queue<T>;
  readonly #sliceMs: number;
  #spinSkips = 0;
  #spinMisses = 0;

  constructor(queue: Queue<T>, sliceMs = 50) {
    this.#queue = queue;
    this.#sliceMs = sliceMs;
  }

  /** The next item; `onIdle` runs after each slice (of `sliceMs`, default the taker's) that brought none. */
  async take(onIdle?: () => void, sliceMs = this.#sliceMs): Promise<T> {
    const queue = this.#queue;
    if (queue.qsize() === 0) {
      if (this.#spinSkips > 0) this.#spinSkips--;
      else {
        const until = performance.now() + eventLoopSpinMs();
        while (queue.qsize() === 0 && performance.now() < until);
        if (queue.qsize() === 0) this.#spinSkips = Math.min(2 ** this.#spinMisses++, 64);
        else this.#spinMisses = 0;
      }
    }
    for (;;) {
      try {
        return queue.getSync(sliceMs);
      } catch (e) {
        if (!(e instanceof Empty)) throw e;
      }
      onIdle?.();
      await turnOfTheLoop();
    }
  }
}
