// JoinableQueue: a Queue whose consumers say when each item is done, so
// that join() can wait for all of them -- counted so that a process killed
// at any instant neither leaves a phantom item nor keeps join() waiting.
import { addon } from '../binding/addon';
import { QUEUE, QUEUE_CONSUMERS_OVERFLOWED } from '../binding/layout';
import { deadlineAfter, remaining, waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { registerHandleKind } from '../share/handles';
import { Entries } from '../shm/entries';
import { drive, driveSync, sleep, type WaitSteps } from '../wait/driver';
import { Queue, reopenQueue } from './queue';
import type { GetOptions } from './ring';

const LIVENESS_SLICE_MS = 20;

/**
 * A Queue whose consumers report each item done (taskDone), so that join()
 * can wait for all. What join() waits for is counted from what is really
 * there: the items in the ring, plus the items each consumer thread took
 * and has not marked done (entries.ts; counted under the ring's lock, so an
 * item is always counted once). A producer killed inside put() adds
 * nothing; a consumer that dies drops what it held from the count.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  protected override get _kind(): string {
    return 'JoinableQueue';
  }

  #consumers: Entries | undefined;
  #mine = -1; // this thread's consumer entry
  #options: GetOptions | undefined; // what gets pass the ring: the counter of that entry

  #table(): Entries {
    if (!this.#consumers) {
      const { state } = Queue._parts(this);
      this.#consumers = new Entries(state.i32, state.at(QUEUE.consumers), QUEUE.consumerEntries, QUEUE.consumerWords);
    }
    return this.#consumers;
  }

  // The word this thread's count lives in (an entry of its own, or the
  // shared overflow word when every entry is taken).
  #countWord(): number {
    const { state } = Queue._parts(this);
    const table = this.#table();
    let i = table.find(undefined, this.#mine);
    if (i < 0) {
      i = table.claim();
      if (i < 0) {
        table.purge((j, id) => this.#dropDead(j, id));
        i = table.claim();
      }
    }
    if (i < 0) {
      Atomics.or(state.i32, state.at(QUEUE.flags), QUEUE_CONSUMERS_OVERFLOWED);
      return state.at(QUEUE.overflow);
    }
    this.#mine = i;
    return table.word(i, 2);
  }

  protected override _getOptions(): GetOptions {
    const word = this.#countWord();
    if (this.#options?.counter !== word * 4) this.#options = Object.freeze({ counter: word * 4, undecodable: () => this.#wakeJoiners() });
    return this.#options;
  }

  // A dead consumer's entry: its count goes (it will never call taskDone),
  // then the entry (entries.ts: reclaim, so that two recoverers cannot zero
  // the count of a consumer that claimed the entry in between).
  #dropDead(i: number, id: bigint): void {
    const { state } = Queue._parts(this);
    const table = this.#table();
    table.reclaim(i, id, () => Atomics.store(state.i32, table.word(i, 2), 0));
  }

  /** Marks one item taken from the queue as processed. */
  taskDone(): void {
    const { state } = Queue._parts(this);
    const i32 = state.i32;
    const table = this.#table();
    const take = (word: number): boolean => {
      for (;;) {
        const n = Atomics.load(i32, word);
        if (n <= 0) return false;
        if (Atomics.compareExchange(i32, word, n, n - 1) === n) return true;
      }
    };
    // Our own count first; then (an item got by another thread) any live
    // consumer's; then the overflow word.
    const mine = table.find(undefined, this.#mine);
    let done = mine >= 0 && take(table.word(mine, 2));
    for (let i = 0; !done && i < table.count; i++) {
      if (i !== mine && Atomics.load(i32, table.word(i, 2)) > 0 && table.live(i)) done = take(table.word(i, 2));
    }
    if (!done) done = take(state.at(QUEUE.overflow));
    if (!done) throw new Error('taskDone() called more times than items were taken from the queue');
    this.#wakeJoiners();
  }

  #wakeJoiners(): void {
    const { state } = Queue._parts(this);
    Atomics.add(state.i32, state.at(QUEUE.done), 1);
    if (Atomics.load(state.i32, state.at(QUEUE.doneSleepers)) !== 0) addon().wake(state.segment, state.offset(QUEUE.done));
  }

  protected override _shutDown(): void {
    this.#wakeJoiners();
  }

  /** Items put and not yet marked done: in the queue, or taken by a consumer. */
  unfinished(): number {
    const { state, ring } = Queue._parts(this);
    // The ring's count first: a get moves an item from it to a consumer's
    // count (that one first), so reading in this order never misses one.
    let n = ring.items;
    const table = this.#table();
    for (let i = 0; i < table.count; i++) n += Math.max(0, Atomics.load(state.i32, table.word(i, 2)));
    return n + Math.max(0, Atomics.load(state.i32, state.at(QUEUE.overflow)));
  }

  // Between waits: forget consumers that died, and repair the ring if a
  // producer died holding its lock (its half-made put counted an item).
  #recover(): void {
    const { ring } = Queue._parts(this);
    this.#table().purge((i, id) => this.#dropDead(i, id));
    ring.recover();
  }

  /**
   * Resolves true once every item put has been taken and marked done (or its
   * taker died); false if the timeout (ms, or `{ timeout, signal }`) passed
   * first. Python's join() has no timeout: without one this waits as it does.
   */
  async join(timeout?: number | WaitOptions, options?: WaitOptions): Promise<boolean> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'JoinableQueue.join');
    return drive(Queue._parts(this).state.segment, this.#joinSteps(deadlineAfter(ms)), signal);
  }

  /** join() that blocks the thread. */
  joinSync(timeout?: number | SyncWaitOptions): boolean {
    const { timeout: ms } = waitArguments(timeout, undefined, 'JoinableQueue.joinSync', false);
    const { state } = Queue._parts(this);
    return driveSync(state.segment, this.#joinSteps(deadlineAfter(ms)));
  }

  // Until nothing is unfinished (true), or the deadline (false); consumers
  // that died holding items are looked for every LIVENESS_SLICE_MS.
  *#joinSteps(deadline: number): WaitSteps<boolean> {
    const { state } = Queue._parts(this);
    for (;;) {
      const seen = Atomics.load(state.i32, state.at(QUEUE.done));
      if (this.unfinished() === 0) return true;
      const left = remaining(deadline);
      if (left === 0) return false;
      const r = yield sleep(state.offset(QUEUE.done), seen, Math.min(left ?? Infinity, LIVENESS_SLICE_MS));
      if (r === 'timed-out') this.#recover();
    }
  }
}

registerHandleKind('JoinableQueue', (data) => reopenQueue(JoinableQueue, data));
