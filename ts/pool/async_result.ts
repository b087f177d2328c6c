// Python's AsyncResult: the outcome of applyAsync/mapAsync, to wait for
// with or without blocking. get(timeout) only stops waiting, as in Python;
// to stop the task itself, give the call a `timeout` or a `signal`.
import { TimeoutError } from '../base/errors';
import { waitArguments, type SyncWaitOptions, type WaitOptions } from '../base/validate';
import { delay } from '../base/timers';
import type { Call } from './calls';
import type { Backend } from './backend';

export class AsyncResult<R> {
  readonly #call: Call<R>;
  readonly #backend: Backend;

  /** @internal */
  constructor(call: Call<R>, backend: Backend) {
    this.#call = call;
    this.#backend = backend;
  }

  /** Whether the call has finished (returned or failed). */
  ready(): boolean {
    return this.#call.settled;
  }

  /** Whether it returned; an Error before it is ready, as Python raises ValueError. */
  successful(): boolean {
    if (!this.#call.settled) throw new Error('the result is not ready yet: successful() needs a finished call (see ready())');
    return this.#call.ok;
  }

  /** Resolves once ready, or after the timeout (ms, or `{ timeout, signal }`), whichever is first. */
  async wait(timeout?: number | WaitOptions, options?: WaitOptions): Promise<void> {
    const { timeout: ms, signal } = waitArguments(timeout, options, 'AsyncResult.wait');
    if (this.#call.settled) return;
    const timer = ms === Infinity ? undefined : delay(ms);
    let onAbort: (() => void) | undefined;
    const aborted =
      signal &&
      new Promise<void>((resolve) => {
        onAbort = resolve;
        signal.addEventListener('abort', onAbort, { once: true });
      });
    try {
      await Promise.race([this.#call.promise.then(noop, noop), ...(timer ? [timer.promise] : []), ...(aborted ? [aborted] : [])]);
    } finally {
      timer?.clear();
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
    signal?.throwIfAborted();
  }

  /** The value; rejects with the call's error, or TimeoutError when not ready within the timeout. */
  async get(timeout?: number | WaitOptions, options?: WaitOptions): Promise<R> {
    const { timeout: ms } = waitArguments(timeout, options, 'AsyncResult.get');
    await this.wait(timeout, options);
    if (!this.#call.settled) throw new TimeoutError(`the result was not ready within ${ms} ms (the task goes on)`);
    return this.#call.outcome();
  }

  /** get() that blocks the thread (the pool is driven from here meanwhile). */
  getSync(timeout?: number | SyncWaitOptions): R {
    const { timeout: ms } = waitArguments(timeout, undefined, 'AsyncResult.getSync', false);
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    const call = this.#call;
    // The call's own timeout, which no timer can fire while this blocks, ends the wait too.
    if (!this.#backend.pumpSync(() => call.poll(), Math.min(deadline, call.deadline))) {
      if (performance.now() >= call.deadline) call.expire();
      else throw new TimeoutError(`the result was not ready within ${ms} ms (the task goes on)`);
    }
    return call.outcome();
  }

  get [Symbol.toStringTag](): string {
    return 'AsyncResult';
  }
}

const noop = (): void => {};
