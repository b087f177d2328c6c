// How an async ring operation waits for its partner without blocking the
// event loop: a short spin on the shared word first (a busy partner answers
// within microseconds), then a native waiter thread; a queue found quiet
// backs the spin off, and a lock holder that died is taken over.
import { turnOfTheLoop } from '../base/timers';
import type { RingHandle } from '../binding/native';
import { addon } from '../binding/addon';
import type { SharedState } from '../shm/shared_state';
import { eventLoopSpinMs, wait } from '../wait/wait';
import { RETRY_SLICE_MS, ringCodes } from './ring_codes';

// Longest an async caller goes on through successful spins (which settle its
// promises as microtasks) before letting the event loop turn once.
const MAX_LOOP_HOLD_MS = 1;
// An async wait longer than this found the queue quiet rather than the
// partner busy: then spinning before the next waits is not worth it.
const QUIET_MS = 1;

export class RingWaiter {
  readonly #state: SharedState;
  readonly #handle: RingHandle;
  readonly #lock: number; // byte offset of the ring's lock word
  // Async waits that skip the spin, after waits that found the queue quiet.
  #spinSkips = 0;
  #quietWaits = 0; // in a row
  #loopHeldSince = 0; // when spins began to stand in for turns of the loop

  constructor(state: SharedState, handle: RingHandle) {
    this.#state = state;
    this.#handle = handle;
    this.#lock = ringCodes().lock;
  }

  // The ring's lock was held: wait (without blocking the loop) for it to
  // change hands, at most a slice; then, if its holder died, take it over.
  async lockMoved(left: number, signal: AbortSignal | undefined): Promise<void> {
    const owner = Atomics.load(this.#state.i32, this.#lock / 4);
    if (owner === 0) return;
    const start = performance.now();
    const limit = eventLoopSpinMs();
    while (performance.now() - start < limit) if (Atomics.load(this.#state.i32, this.#lock / 4) !== owner) return;
    const r = await wait(this.#state.segment, this.#lock, owner, { timeout: Math.min(left, RETRY_SLICE_MS), signal });
    if (r === 'timed-out') addon().ringRecover(this.#handle);
  }

  // Resolves once the counter at byte `offset` has moved from `seen` (or in
  // at most RETRY_SLICE_MS, or `left`): a spin on the event loop first (see
  // eventLoopSpinMs), then a native waiter thread. Resolves false when a
  // whole slice passed without a move.
  async moved(offset: number, seen: number, left: number, signal: AbortSignal | undefined): Promise<boolean> {
    const start = performance.now();
    if (this.#spinSkips > 0) {
      this.#spinSkips--;
    } else if (this.#spin(offset / 4, seen, start)) {
      if (this.#loopHeldTooLong()) await turnOfTheLoop();
      return true;
    }
    const r = await wait(this.#state.segment, offset, seen, { timeout: Math.min(left, RETRY_SLICE_MS), signal });
    this.#loopHeldSince = 0;
    // A partner that answered within QUIET_MS is busy: keep spinning, for
    // once both sides spin again the next answer is caught. (Backing off after
    // every missed spin instead kept two awaiting partners asleep, at
    // 110-140 us a round trip, for seconds.) A queue quiet for longer backs
    // off: the next 1, 2, 4 ... 64 waits skip the spin.
    if (performance.now() - start < QUIET_MS) {
      this.#quietWaits = 0;
      this.#spinSkips = 0;
    } else {
      this.#spinSkips = Math.min(2 ** this.#quietWaits++, 64);
    }
    if (r === 'timed-out') {
      addon().ringRecover(this.#handle); // a committer that died holding the lock must not strand us
      return false;
    }
    return true;
  }

  // Spins on the event loop until the word moves from `seen`; false if it did
  // not within eventLoopSpinMs of `start`.
  #spin(word: number, seen: number, start: number): boolean {
    const limit = eventLoopSpinMs();
    if (limit === 0) return false;
    const i32 = this.#state.i32;
    const until = start + limit;
    do {
      if (Atomics.load(i32, word) !== seen) return true;
    } while (performance.now() < until);
    return false;
  }

  // A wait through the waiter thread lets the event loop turn; one that a
  // spin ended does not. After MAX_LOOP_HOLD_MS of those, timers and I/O get
  // their turn (measured without this: 20 ms between 1 ms timer ticks while
  // a consumer kept up with a fast producer).
  #loopHeldTooLong(): boolean {
    const now = performance.now();
    if (this.#loopHeldSince === 0) this.#loopHeldSince = now;
    if (now - this.#loopHeldSince < MAX_LOOP_HOLD_MS) return false;
    this.#loopHeldSince = 0;
    return true;
  }
}
