// What this thread holds: the JS objects over each shared state, found
// again by name (a handle received twice reopens once), and their holds
// given up when the last of them is collected or the thread exits.
import type { Kind } from '../binding/layout';
import { SharedState, type Ticket } from './shared_state';

// The states this thread holds. When it exits, it holds nothing any more:
// its holds go then (finalizers do not run at exit), so the last process to
// use an object removes it as it ends. (One killed, or a terminated
// worker_thread, leaves its entry to be cleared by the next holder that
// lets go, or by the tracker at the end of the program.)
// Counted per state: the JS objects of this thread over it (an object and
// its embedded lock); the hold goes with the last.
const held = new Map<SharedState, number>();
process.once('exit', () => {
  for (const state of held.keys()) state.letGo();
  held.clear();
});

function retain(state: SharedState): void {
  held.set(state, (held.get(state) ?? 0) + 1);
}

// A JS object over `state` was collected; with the last one, the hold goes.
function release(state: SharedState): void {
  const left = (held.get(state) ?? 1) - 1;
  if (left > 0) {
    held.set(state, left);
    return;
  }
  held.delete(state);
  state.letGo();
}

// One object per name per thread: a handle received twice reopens once.
const opened = new Map<string, WeakRef<object>>();
const stateOf = new WeakMap<object, SharedState>();
const collected = new FinalizationRegistry<SharedState>((state) => {
  if (opened.get(state.name)?.deref() === undefined) opened.delete(state.name);
  release(state);
});

/**
 * Registers the object made over `state`: found again by name (unless
 * `findable` is false: an embedded lock), and counted as a user of the
 * state until it is collected.
 */
export function remember(state: SharedState, obj: object, findable = true): void {
  if (findable) {
    opened.set(state.name, new WeakRef(obj));
    stateOf.set(obj, state);
  }
  retain(state);
  collected.register(obj, state, obj);
}

/**
 * Gives up this thread's hold on `obj` now rather than at its collection
 * (an owner that is done with an object of its own, a Pool after join()).
 * The object must not be used afterwards: its name may be gone.
 */
export function letGoNow(obj: object): void {
  const state = stateOf.get(obj);
  if (!state || !collected.unregister(obj)) return;
  stateOf.delete(obj);
  if (opened.get(state.name)?.deref() === obj) opened.delete(state.name);
  release(state);
}

/** The handle fields every object carries: its segment's name, user name, and a placeholder ticket. */
export function handleOf(state: SharedState): { name: string; userName: string | undefined; ticket: Ticket | undefined } {
  return { name: state.name, userName: state.userName, ticket: state.ticket() };
}

/**
 * The object a handle names: the one this thread has open already (the
 * handle's placeholder is given back), or `make` over the opened segment
 * (which takes the placeholder over).
 */
export function reviveShared<T extends object>(
  data: Record<string, unknown>,
  kind: Kind,
  make: (state: SharedState) => T,
  minStateWords = 0,
): T {
  const name = String(data.name);
  const ticket = data.ticket as Ticket | undefined;
  const existing = opened.get(name)?.deref() as T | undefined;
  if (existing) {
    if (ticket) stateOf.get(existing)?.dropTicket(ticket);
    return existing;
  }
  const userName = typeof data.userName === 'string' ? data.userName : undefined;
  return make(SharedState.open(name, kind, userName, ticket, minStateWords));
}
