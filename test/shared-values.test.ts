// Value and SharedArray: named ones shared by unrelated processes (cluster
// workers), lock-free atomic helpers, index access and iteration (issue 9,
// item 15; SPEC "Shared state").
import { describe, expect, it } from 'vitest';
import { Lock, RLock, RawArray, SharedArray, Value, unlinkNamed } from '../dist/index.js';
import { fixture, nodeCode, startNode } from './helpers/child';
import { processRunner } from './helpers/processes';

const targets = fixture('value-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);

describe('named Value and SharedArray', () => {
  it('unrelated node processes open the same counter by name and count without a lock', async () => {
    const name = `hits-${process.pid}`;
    const mine = new Value('i', 0, { name });
    try {
      const code = `const v = new mp.Value('i', 999, { name: ${JSON.stringify(name)} });
        for (let i = 0; i < 5000; i++) v.add(1);
        console.log('done', v.getLock() instanceof mp.RLock);`;
      const children = [0, 1, 2].map(() => startNode(nodeCode(code)));
      for (const c of children) expect((await c.line(/^done.*/))[0]).toBe('done true');
      for (const c of children) expect(await c.exited).toBe(0);
      expect(mine.value).toBe(15_000); // the initial value applied only at creation
    } finally {
      mine.unlink();
    }
  });

  it('a named SharedArray is opened with its own length; a different one is an error', () => {
    const name = `arr-${process.pid}`;
    const a = new SharedArray('d', [1, 2, 3], { name });
    try {
      const b = new SharedArray('d', 3, { name });
      expect(b.toArray()).toEqual([1, 2, 3]);
      b.set(0, 9);
      expect(a.get(0)).toBe(9);
      expect(() => new SharedArray('d', 4, { name })).toThrow(RangeError);
      expect(() => new SharedArray('i', 3, { name })).toThrow(/holds float64, not int32/);
      expect(() => new Value('d', 0, { name })).toThrow(TypeError);
      expect(() => new Value('i', 0, { name: 'x', lock: new Lock() })).toThrow(/named Value carries its own lock/);
    } finally {
      unlinkNamed(name);
    }
  });

  it('a named one without a lock stays without one for everyone', () => {
    const name = `raw-${process.pid}`;
    const a = new Value('q', 1n, { name, lock: false });
    try {
      const b = new Value('q', 0n, { name });
      expect(() => b.getLock()).toThrow(/no lock/);
      expect(b.add(41n)).toBe(42n);
      expect(a.value).toBe(42n);
    } finally {
      a.unlink();
    }
  });
});

describe('atomic helpers', () => {
  it('a named SharedArray travels to a child as an argument (its handle reopens with its own length)', async () => {
    const name = `sent-array-${process.pid}`;
    const arr = new SharedArray('d', [1, 2, 3], { name });
    try {
      const p = run(t.doubleAll, arr);
      await p.join();
      expect(p.exitCode).toBe(0);
      expect([...arr]).toEqual([2, 4, 6]);
    } finally {
      unlinkNamed(name);
    }
  });

  it('add() across 4 processes loses no increment, with no lock', async () => {
    const v = new Value('i', 0, { lock: false });
    const ps = [0, 1, 2, 3].map(() => run(t.addAtomically, v, 10_000));
    for (const p of ps) await p.join();
    expect(v.value).toBe(40_000);
  });

  it('compareExchange() builds a correct increment across processes', async () => {
    const arr = RawArray('I', 4);
    const ps = [0, 1, 2].map(() => run(t.casIncrement, arr, 2, 5_000));
    for (const p of ps) await p.join();
    expect([...arr]).toEqual([0, 0, 15_000, 0]);
  });

  it('wraps as the type does, returns the new value, refuses non-integer types and values', () => {
    const b = new Value('b', 127);
    expect(b.add(1)).toBe(-128);
    const u = new Value('Q', 0n);
    expect(u.add(-1n)).toBe(2n ** 64n - 1n);
    expect(u.compareExchange(2n ** 64n - 1n, 5n)).toBe(2n ** 64n - 1n);
    expect(u.value).toBe(5n);
    expect(() => (new Value('d', 1) as unknown as Value<'i'>).add(1)).toThrow(/integer typecode/);
    expect(() => (new Value('c', 'a') as unknown as Value<'i'>).add(1)).toThrow(TypeError);
    expect(() => new Value('i', 1).add(1.5)).toThrow(TypeError);
    expect(() => new Value('q', 1n).add((2 ** 60) as never)).toThrow(TypeError); // not a safe integer
    expect(new Value('q', 1n).add(2 as never)).toBe(3n); // a safe integer is fine for 64-bit ones
  });

  it('an integer Value takes integers only, as in Python: a fraction or NaN is a TypeError, not truncated', () => {
    const v = new Value('i', 1);
    for (const bad of [1.7, NaN, Infinity, -Infinity])
      expect(() => {
        v.value = bad;
      }).toThrow(/must be an integer for int32/);
    expect(v.value).toBe(1);
    expect(() => new Value('i', 0.5)).toThrow(TypeError);
    const d = new Value('d', 0);
    d.value = 1.7;
    expect(d.value).toBe(1.7);
  });
});

describe('SharedArray index access', () => {
  it('reads and writes by index, iterates, spreads, knows its indexes', () => {
    const arr = new SharedArray('i', [1, 2, 3]);
    expect(arr[0]).toBe(1);
    arr[1] = 20;
    expect(arr.get(1)).toBe(20);
    expect([...arr]).toEqual([1, 20, 3]);
    expect(Object.keys(arr)).toEqual(['0', '1', '2']);
    expect(2 in arr).toBe(true);
    expect(3 in arr).toBe(false);
    expect(arr[3]).toBeUndefined();
    expect(() => {
      arr[3] = 1;
    }).toThrow(RangeError);
    expect(() => {
      arr[-1] = 1;
    }).toThrow(/index -1 is out of range .*negative indexes/);
    expect(() => {
      arr[1.5] = 1;
    }).toThrow(RangeError);
    expect(() => {
      (arr as unknown as { length: number }).length = 10;
    }).toThrow(/length of a SharedArray is fixed \(3\)/);
    expect(() => {
      (arr as unknown as Record<string, number>).foo = 1;
    }).toThrow(/no property "foo": only its items/);
    expect(() => {
      arr[0] = 1.5;
    }).toThrow(/must be an integer for int32, got 1.5/);
    expect(arr.get(-1)).toBe(3);
    expect(() => new SharedArray('i', '10' as never)).toThrow(/a string is items only for typecode 'c'/);
    expect([...new SharedArray('c', 'ab')]).toEqual(['a', 'b']);
    expect(arr.length).toBe(3);
    expect(arr).toBeInstanceOf(SharedArray);
    expect(arr.getLock()).toBeInstanceOf(RLock);
    const big = new SharedArray('q', 2);
    big[0] = 5n;
    expect(big[0]).toBe(5n);
    expect(Array.from(big)).toEqual([5n, 0n]);
  });
});
