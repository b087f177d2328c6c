// SimpleMapReduce: map in the pool, partition by key, reduce in the pool.
import { describe, expect, it } from 'vitest';
import { SimpleMapReduce } from '../dist/index.js';
import { fixture } from './helpers/child';

const M = fixture('pool-tasks.mjs');
const t: Record<string, any> = await import(M);
const texts = ['a b a', 'b c', 'a', 'c c c d'];
const expected = { a: 3, b: 2, c: 4, d: 1 };

describe('SimpleMapReduce', () => {
  it('counts words across chunks and workers, each key reduced once', async () => {
    await using mr = new SimpleMapReduce(t.words, t.total, { processes: 2, module: M });
    for (const chunksize of [1, 3]) {
      const counts = Object.fromEntries((await mr.run(texts, { chunksize })) as Array<[string, number]>);
      expect(counts).toEqual(expected);
    }
    const big = Array.from({ length: 200 }, (_, i) => `w${i % 7} x`);
    const r = Object.fromEntries((await mr.run(big, { chunksize: 16 })) as Array<[string, number]>);
    expect(r.x).toBe(200);
    expect(r.w0).toBe(29);
  });

  it('async inputs, a map function that is an async generator is an error (it must return an iterable)', async () => {
    await using mr = new SimpleMapReduce(t.words, t.total, { processes: 1, module: M });
    async function* inputs(): AsyncGenerator<string> {
      yield* texts;
    }
    expect(Object.fromEntries((await mr.run(inputs())) as Array<[string, number]>)).toEqual(expected);
    await using bad = new SimpleMapReduce(t.notPairs, t.total, { processes: 1, module: M });
    await expect(bad.run(['x'])).rejects.toThrow(/\[key, value\] pairs/);
  });

  it('bad arguments are typed errors', async () => {
    expect(() => new SimpleMapReduce((() => []) as any, t.total, { module: M })).toThrow(TypeError);
    expect(() => new SimpleMapReduce(t.words, t.total, { module: M, bogus: 1 } as any)).toThrow(/unknown SimpleMapReduce option/);
    await using mr = new SimpleMapReduce(t.words, t.total, { processes: 1, module: M });
    await expect(mr.run(texts, { chunksize: 0 })).rejects.toThrow(RangeError);
  });
});
