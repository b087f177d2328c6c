// How a handle's reviver hands what it reopened to the constructor it calls.
// A shared object's constructor is public (users call it with options) and
// is also how a reopened object is built (a state instead of options): the
// reviver gives the state for exactly that one construction. give() takes it
// back when the construction ends, also when it throws, so a failed revival
// can never leave a state for the next user's `new`.
export class Handoff<T> {
  #value: T | undefined;
  #pending = false;

  /** Runs `make` (which constructs) with `value` waiting for the constructor's take(). */
  give<R>(value: T, make: () => R): R {
    this.#value = value;
    this.#pending = true;
    try {
      return make();
    } finally {
      this.#value = undefined;
      this.#pending = false;
    }
  }

  /** True while a give() waits for its constructor. */
  get pending(): boolean {
    return this.#pending;
  }

  /** What give() holds, once; undefined when a user called the constructor. */
  take(): T | undefined {
    if (!this.#pending) return undefined;
    const value = this.#value;
    this.#value = undefined;
    this.#pending = false;
    return value;
  }
}
