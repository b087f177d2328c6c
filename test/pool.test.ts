// Pool: every call of the contract, its options, results and errors, with
// real worker processes running the functions of a fixture module.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, AsyncResult, Pool, SharedArray, TimeoutError } from '../dist/index.js';
import { fixture } from './helpers/child';

const M = fixture('pool-tasks.mjs');
const t: Record<string, any> = await import(M);

let pool: Pool;
beforeAll(() => {
  pool = new Pool(2, { module: M });
});
afterAll(async () => {
  pool.close();
  await pool.join();
});

async function* countTo(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    await Promise.resolve();
    yield i;
  }
}

describe('calls', () => {
  it('apply, applySync and applyAsync run the function in a worker', async () => {
    expect(await pool.apply(t.add, [2, 3])).toBe(5);
    expect(pool.applySync(t.add, [4, 5])).toBe(9);
    const r = pool.applyAsync(t.add, [1, 1]);
    expect(r).toBeInstanceOf(AsyncResult);
    expect(await r.get(60_000)).toBe(2);
    expect(r.ready()).toBe(true);
    expect(r.successful()).toBe(true);
    const pid = await pool.apply(t.pid);
    expect(pid).not.toBe(process.pid);
    expect(pool.pids).toContain(pid);
  });

  it('an async task function is awaited; undefined comes back as undefined', async () => {
    expect(await pool.apply(t.later, ['x', 1])).toBe('x');
    expect(await pool.apply(t.init, ['ignored'])).toBeUndefined();
  });

  it('map, mapSync, mapAsync, starmap and starmapAsync keep input order', async () => {
    const xs = Array.from({ length: 100 }, (_, i) => i);
    const squares = xs.map((x) => x * x);
    expect(await pool.map(t.square, xs)).toEqual(squares);
    expect(await pool.map(t.square, xs, 7)).toEqual(squares);
    expect(pool.mapSync(t.square, xs, { chunksize: 3 })).toEqual(squares);
    expect(await pool.mapAsync(t.square, xs).get()).toEqual(squares);
    expect(
      await pool.starmap(
        t.add,
        xs.map((x) => [x, 1]),
      ),
    ).toEqual(xs.map((x) => x + 1));
    expect(await pool.starmapAsync(t.add, [[1, 2], new Set([3, 4]) as unknown as unknown[]]).get()).toEqual([3, 7]);
    expect(await pool.map(t.square, [])).toEqual([]);
  });

  it('imap yields in input order, imapUnordered as results come, both from async iterables too', async () => {
    const got: number[] = [];
    for await (const v of pool.imap(t.square, countTo(50))) got.push(v as number);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
    const unordered: number[] = [];
    for await (const v of pool.imapUnordered(t.square, [3, 1, 2], 1)) unordered.push(v as number);
    expect(unordered.sort()).toEqual([1, 4, 9]);
    expect(await pool.map(t.square, countTo(10))).toEqual(Array.from({ length: 10 }, (_, i) => i * i));
  });

  it('imap reads an infinite generator lazily; leaving the loop stops reading it', async () => {
    let read = 0;
    function* naturals(): Generator<number> {
      for (let i = 0; ; i++) {
        read++;
        yield i;
      }
    }
    let n = 0;
    for await (const v of pool.imap(t.square, naturals())) {
      expect(v).toBe(n * n);
      if (++n === 20) break;
    }
    const after = read;
    expect(after).toBeLessThan(5000); // bounded lookahead
    await pool.apply(t.add, [0, 0]); // the pool goes on
    expect(read).toBe(after);
  });

  it('map of a long generator holds a bounded number of inputs at once', async () => {
    let read = 0;
    let done = 0;
    function* inputs(): Generator<number> {
      for (let i = 0; i < 50_000; i++) {
        read++;
        expect(read - done).toBeLessThan(20_000);
        yield i;
      }
    }
    const r = await pool.map(t.square, inputs(), {
      chunksize: 10,
      onProgress: (n) => {
        done = n;
      },
    });
    expect(r.length).toBe(50_000);
    expect(r[49_999]).toBe(49_999 * 49_999);
    expect(done).toBe(50_000);
  });

  it('shared objects travel as handles: a task fills a SharedArray in place', async () => {
    // A pool of its own, joined here: the array is then held by this process alone, and goes
    // when it is collected (a holder that is still alive keeps it, see Nothing leaks).
    const p = new Pool(1, { module: M });
    const a = new SharedArray('i', 8);
    expect(await p.apply(t.fill, [a, 10])).toBe(8);
    expect(a.toArray()).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    p.close();
    await p.join();
  });

  it('callbacks of applyAsync and mapAsync', async () => {
    const got = await new Promise((resolve) => pool.applyAsync(t.add, [2, 2], { callback: resolve }));
    expect(got).toBe(4);
    const err = await new Promise<Error>((resolve) => pool.applyAsync(t.boom, ['cb'], { errorCallback: resolve }));
    expect(err.message).toBe('cb');
    const all = await new Promise((resolve) => pool.mapAsync(t.square, [1, 2], { callback: resolve }));
    expect(all).toEqual([1, 4]);
  });
});

describe('errors', () => {
  it('a thrown error keeps its class, message, code and fields; the worker stack is its cause', async () => {
    const e = (await pool.apply(t.boom, ['bad']).catch((x: Error) => x)) as Error;
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe('bad');
    expect((e as any).code).toBe('E_BOOM');
    expect(String((e.cause as Error).stack)).toMatch(/boom/);
    expect(String((e.cause as Error).message)).toMatch(/PoolWorker-\d+, pid \d+/);
    const c = (await pool.apply(t.custom).catch((x: Error) => x)) as Error;
    expect(c.name).toBe('MyError');
    expect((c as any).detail).toEqual({ a: 1 });
    expect(() => pool.applySync(t.boom, ['sync'])).toThrow(RangeError);
    await expect(pool.map(t.boom, ['in map'])).rejects.toThrow('in map');
    const r = pool.applyAsync(t.boom, ['async']);
    await r.wait();
    expect(r.successful()).toBe(false);
    await expect(r.get()).rejects.toThrow('async');
    expect(() => r.getSync()).toThrow('async');
  });

  it('a result that cannot be cloned is a TypeError naming the problem', async () => {
    const e = await pool.apply(t.unclonable).catch((x: Error) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_MP_RESULT_NOT_CLONEABLE');
  });

  it('an argument that cannot be cloned rejects that call; the pool goes on', async () => {
    await expect(pool.apply(t.add, [() => 1, 2])).rejects.toThrow(/clone/);
    expect(await pool.apply(t.add, [1, 2])).toBe(3);
  });

  it('bad inputs are typed errors, never a hang', async () => {
    await expect(pool.apply((() => 1) as any)).rejects.toThrow(TypeError);
    await expect(pool.apply('add' as any)).rejects.toThrow(/must be a function/);
    await expect(pool.apply(t.add, 5 as any)).rejects.toThrow(/args must be an array/);
    await expect(pool.apply(t.add, [], { bogus: 1 } as any)).rejects.toThrow(/unknown Pool.apply option "bogus"/);
    await expect(pool.map(t.square, 5 as any)).rejects.toThrow(/iterable/);
    await expect(pool.map(t.square, [1], { chunksize: 0 })).rejects.toThrow(RangeError);
    await expect(pool.apply(t.add, [], { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(pool.apply(t.add, [], { retries: 1.5 })).rejects.toThrow(TypeError);
    await expect(pool.starmap(t.add, [5] as any)).rejects.toThrow(/arrays of arguments/);
    expect(() => new Pool(0)).toThrow(RangeError);
    expect(() => new Pool(1.5)).toThrow(TypeError);
    expect(() => new Pool(1, { maxTasksPerChild: 0 })).toThrow(RangeError);
    expect(() => new Pool(1, { nope: true } as any)).toThrow(/unknown Pool option/);
    const r = pool.applyAsync(t.later, [1, 1000]);
    expect(() => r.successful()).toThrow(/not ready/);
    await expect(r.get(1)).rejects.toThrow(TimeoutError);
    expect(await r.get()).toBe(1);
  });

  it('a function the worker cannot find rejects with a clear error', async () => {
    await expect(pool.apply(t.add, [1, 2], { module: fixture('plain-targets.mjs') })).rejects.toThrow(/not exported by/);
  });
});

describe('timeouts and aborts stop the task', () => {
  it('a call past its timeout rejects with TimeoutError and its worker is replaced', async () => {
    const before = await pool.map(t.pid, [0, 1, 2, 3]);
    const e = await pool.apply(t.forever, [], { timeout: 200 }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(TimeoutError);
    // The pool goes on with a new worker in place of the one stopped.
    const pids = new Set(await pool.map(t.spin, Array(8).fill(20), 1));
    expect(pids.size).toBeGreaterThan(0);
    expect(pool.pids.length).toBe(2);
    expect(pool.pids.some((p) => !before.includes(p))).toBe(true);
  });

  it('an aborted signal rejects with AbortError and stops the task', async () => {
    const ac = new AbortController();
    const p = pool.apply(t.forever, [], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toThrow(AbortError);
    await expect(pool.apply(t.add, [1, 1], { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
    expect(await pool.apply(t.add, [1, 1])).toBe(2);
  });

  it('a map past its timeout stops all of its tasks', async () => {
    await expect(pool.map(t.forever, [1, 2, 3, 4], { chunksize: 1, timeout: 300 })).rejects.toThrow(TimeoutError);
    expect(await pool.map(t.square, [1, 2, 3])).toEqual([1, 4, 9]);
  });
});

describe('options', () => {
  it('initializer runs in each worker before its tasks', async () => {
    const p = new Pool(2, { module: M, initializer: t.init, initargs: ['ready'] });
    expect(await p.map(t.initValue, [1, 2, 3, 4], 1)).toEqual(['ready', 'ready', 'ready', 'ready']);
    await p[Symbol.asyncDispose]();
  });

  it('maxTasksPerChild recycles workers and loses nothing', async () => {
    const p = new Pool(2, { module: M, maxTasksPerChild: 5 });
    const pids = await p.map(
      t.pid,
      Array.from({ length: 40 }, (_, i) => i),
      1,
    );
    expect(pids.length).toBe(40);
    expect(new Set(pids).size).toBeGreaterThanOrEqual(8);
    p.close();
    await p.join();
  });

  it('maxQueue bounds the backlog; every call still completes', async () => {
    const p = new Pool(1, { module: M, maxQueue: 2 });
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => p.apply(t.add, [i, 1])));
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await p.map(t.square, [1, 2, 3, 4, 5], 1)).toEqual([1, 4, 9, 16, 25]);
    p.close();
    await p.join();
  });
});
