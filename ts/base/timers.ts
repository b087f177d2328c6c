// JS-side timers for timeouts a user gives us. Every timeout in the API is
// any non-negative number of milliseconds, Infinity included, but Node's
// setTimeout takes at most 2^31-1 ms: past that it warns
// (TimeoutOverflowWarning) and fires after 1 ms, so a join(2 ** 31) would
// return at once. A long delay is chained out of maximal timers instead, and
// Infinity sets no timer at all. (Native waits take their timeout in ms and
// treat Infinity as forever themselves.)

/** The longest delay one setTimeout accepts. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timeout of any length; like a Node Timeout, it keeps the event loop alive unless unref()'d. */
export class LongTimeout {
  #callback: () => void;
  #left: number;
  #timer: NodeJS.Timeout | undefined;
  #ref = true;
  #done = false;

  constructor(callback: () => void, ms: number) {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
      throw new RangeError(`a delay must be a non-negative number of milliseconds or Infinity, got ${String(ms)}`);
    }
    this.#callback = callback;
    this.#left = ms;
    // Infinity: nothing will ever fire, and nothing must keep the loop alive for it.
    if (ms !== Infinity) this.#arm();
  }

  #arm(): void {
    // Counted down in chunks rather than against a clock: a timer never
    // fires early, so the total is never short. (For Number.MAX_VALUE the
    // subtraction changes nothing: it waits for ever, 24.8 days at a time.)
    const chunk = Math.min(this.#left, MAX_TIMER_MS);
    this.#left -= chunk;
    this.#timer = setTimeout(() => {
      if (this.#left > 0) {
        this.#arm();
        return;
      }
      this.#done = true;
      this.#timer = undefined;
      this.#callback();
    }, chunk);
    if (!this.#ref) this.#timer.unref();
  }

  /** Cancels it; does nothing once it has fired. */
  clear(): void {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Lets the event loop end while this is pending (carried over to every chained timer). */
  unref(): this {
    this.#ref = false;
    this.#timer?.unref();
    return this;
  }

  ref(): this {
    this.#ref = true;
    if (!this.#done) this.#timer?.ref();
    return this;
  }
}

/** Calls `callback` after `ms` milliseconds: any non-negative number; Infinity never calls it. */
export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  return new LongTimeout(callback, ms);
}

/** Resolves after `ms` milliseconds (never for Infinity); `clear()` leaves it pending for good. */
export function delay(ms: number): { promise: Promise<void>; clear(): void } {
  let timer: LongTimeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = new LongTimeout(resolve, ms);
  });
  return { promise, clear: () => timer!.clear() };
}

/** Resolves after the event loop has turned once (timers and I/O had their go). */
export const turnOfTheLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
