// The inputs of a map: arrays, sets, sync or async iterables, read lazily;
// for a map over a sync iterable of unknown length, its first items read
// ahead to choose the chunksize (Python lists the whole input for that).
import { isIterable } from '../base/validate';

export type Input<T> = Iterable<T> | AsyncIterable<T>;

/** An input's iterator, and whether it is a sync one. */
export type Source = { sync: true; it: Iterator<unknown> } | { sync: false; it: AsyncIterator<unknown> };

/** The number of items, when the input says so without being read. */
export function knownLength(input: unknown): number | undefined {
  if (Array.isArray(input) || ArrayBuffer.isView(input)) return (input as ArrayLike<unknown>).length;
  if (input instanceof Set || input instanceof Map) return input.size;
  return undefined;
}

export function sourceOf(input: Input<unknown>): Source {
  return isIterable(input) ? { sync: true, it: input[Symbol.iterator]() } : { sync: false, it: input[Symbol.asyncIterator]() };
}

function* chain<T>(head: T[], rest: Iterator<T>): Generator<T> {
  yield* head;
  for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
}

/** Reads up to `max` items ahead: a source that yields them and the rest, and the input's length if it ended within them. */
export function readAhead(input: Iterable<unknown>, max: number): { source: Source; n: number | undefined } {
  const head: unknown[] = [];
  const it = input[Symbol.iterator]();
  for (;;) {
    if (head.length >= max) return { source: { sync: true, it: chain(head, it) }, n: undefined };
    const r = it.next();
    if (r.done) return { source: { sync: true, it: chain(head, it) }, n: head.length };
    head.push(r.value);
  }
}
