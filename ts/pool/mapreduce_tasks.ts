// The task functions SimpleMapReduce runs in the pool's workers: they look
// the user's map and reduce functions up by module and export name, and
// combine each chunk's pairs by key before anything crosses back.
import { importExport } from '../base/modules';

type Ref = [string, string]; // module URL, export name

async function find(ref: Ref, what: string): Promise<(...args: unknown[]) => unknown> {
  const fn = await importExport({ module: ref[0], exportName: ref[1] }, (r) => {
    return new TypeError(`cannot find the ${what}: ${r.module} has no export named "${r.exportName}" in the pool's worker`);
  });
  if (typeof fn !== 'function') throw new TypeError(`the ${what} "${ref[1]}" exported by ${ref[0]} is not a function`);
  return fn as (...args: unknown[]) => unknown;
}

/** Runs mapFn over a chunk of inputs; its [key, value] pairs grouped by key: [[key, [values...]], ...]. */
export async function mapChunk([ref, inputs]: [Ref, unknown[]]): Promise<Array<[unknown, unknown[]]>> {
  const mapFn = await find(ref, 'map function');
  const groups = new Map<unknown, unknown[]>();
  for (const input of inputs) {
    let pairs = mapFn(input);
    if (pairs instanceof Promise) pairs = await pairs;
    if (pairs === null || typeof (pairs as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new TypeError('the map function must return an iterable of [key, value] pairs');
    }
    for (const pair of pairs as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('the map function must yield [key, value] pairs');
      const [key, value] = pair as [unknown, unknown];
      const group = groups.get(key);
      if (group) group.push(value);
      else groups.set(key, [value]);
    }
  }
  return [...groups];
}

/** Runs reduceFn over [key, values] items. */
export async function reduceChunk(ref: Ref, items: Array<[unknown, unknown[]]>): Promise<unknown[]> {
  const reduceFn = await find(ref, 'reduce function');
  const out: unknown[] = [];
  for (const item of items) {
    let r = reduceFn(item);
    if (r instanceof Promise) r = await r;
    out.push(r);
  }
  return out;
}
