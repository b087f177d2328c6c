// Pool regressions: each found by a review or a new user's trial, each
// failed before its fix.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbortError, Pool, ProcessError, TimeoutError } from '../dist/index.js';
import { fixture } from './helpers/child';

const M = fixture('pool-tasks.mjs');
const t: Record<string, any> = await import(M);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('close() and calls still running', () => {
  it('close() before an imap is read: every result still comes (was: ~300 of 1000, then exit 13)', async () => {
    const pool = new Pool(2, { module: M });
    const it = pool.imap(t.square, range(1000));
    pool.close();
    let n = 0;
    for await (const v of it) expect(v).toBe(n * n++);
    expect(n).toBe(1000);
    await pool.join();
  });

  it('close() with maxTasksPerChild: the backlog is done before join() resolves (was: 8 of 12 left pending)', async () => {
    const pool = new Pool(2, { module: M, maxTasksPerChild: 2 });
    const calls = range(12).map((i) => pool.apply(t.add, [i, 1]));
    pool.close();
    await pool.join();
    expect(await Promise.all(calls)).toEqual(range(12).map((i) => i + 1));
  });
});

describe('maxTasksPerChild', () => {
  it('tasks skipped by a worker count toward its quota: the pool keeps its workers (was: down to 0, then no answer)', async () => {
    const pool = new Pool(1, { module: M, maxTasksPerChild: 2 });
    for (let round = 0; round < 4; round++) {
      const ac = new AbortController();
      const running = pool.apply(t.sleepThen, ['a', 50]);
      const queued = pool.apply(t.add, [1, 1], { signal: ac.signal });
      ac.abort();
      await expect(queued).rejects.toThrow(AbortError);
      expect(await running).toBe('a');
    }
    expect(await pool.apply(t.add, [2, 2])).toBe(4);
    pool.close();
    await pool.join();
  });
});

describe('results are not held behind a slow task', () => {
  it('a fast task sent with a slow one settles first (was: held until the slow one ended)', async () => {
    const pool = new Pool(1, { module: M });
    await pool.apply(t.spinThen, [0, 1]); // both functions known to the worker
    await pool.apply(t.square, [1]);
    const order: string[] = [];
    const fast = pool.apply(t.square, [3]).then(() => order.push('fast'));
    const slow = pool.apply(t.spinThen, ['slow', 300]).then(() => order.push('slow'));
    await Promise.all([fast, slow]);
    expect(order).toEqual(['fast', 'slow']);
    pool.close();
    await pool.join();
  });
});

describe('maxQueue and terminate()', () => {
  it('a map that starts behind a full backlog still runs (was: no answer)', async () => {
    const pool = new Pool(1, { module: M, maxQueue: 2 });
    const first = range(5).map((i) => pool.apply(t.sleepThen, [i, 5]));
    expect(await pool.map(t.square, range(20), 1)).toEqual(range(20).map((x) => x * x));
    expect(await Promise.all(first)).toEqual(range(5));
    pool.close();
    await pool.join();
  });

  it('terminate() rejects every pending call, also those waiting for room (was: left pending)', async () => {
    const pool = new Pool(1, { module: M, maxQueue: 1 });
    const calls = [pool.apply(t.forever), pool.apply(t.add, [1, 1]), pool.apply(t.add, [2, 2]), pool.map(t.square, range(10))];
    const settled = Promise.allSettled(calls);
    await new Promise((r) => setTimeout(r, 100));
    pool.terminate();
    const outcomes = await settled;
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(((o as PromiseRejectedResult).reason as { code?: string }).code).toBe('ERR_MP_POOL_CLOSED');
    }
    await pool.join();
  });
});

describe('failed starts', () => {
  it('after the pool gave up on failing workers, a later call tries again and rejects too (was: pending for ever)', async () => {
    const pool = new Pool(1, { module: M, initializer: t.failInit });
    await expect(pool.apply(t.add, [1, 1])).rejects.toThrow(ProcessError);
    await expect(pool.apply(t.add, [1, 1])).rejects.toThrow(ProcessError);
    pool.terminate();
    await pool.join();
  });
});

describe('calls', () => {
  it('applyAsync with only a callback: a failing task does not crash the program (was: uncaught)', async () => {
    const pool = new Pool(1, { module: M });
    let called = false;
    const r = pool.applyAsync(t.boom, ['x'], { callback: () => (called = true) });
    await r.wait();
    expect(r.successful()).toBe(false);
    expect(called).toBe(false);
    pool.close();
    await pool.join();
  });

  it('the blocking forms honour a call timeout (was: ignored)', async () => {
    const pool = new Pool(1, { module: M });
    expect(() => pool.applySync(t.forever, [], { timeout: 200 })).toThrow(TimeoutError);
    expect(() => pool.mapSync(t.forever, [1, 2], { chunksize: 1, timeout: 200 })).toThrow(TimeoutError);
    expect(() => pool.applyAsync(t.forever, [], { timeout: 200 }).getSync()).toThrow(TimeoutError);
    expect(pool.applySync(t.add, [1, 2])).toBe(3);
    pool.close();
    await pool.join();
  });

  it('imap raises an error where it happened, after the results before it (was: at once)', async () => {
    const pool = new Pool(2, { module: M });
    const got: unknown[] = [];
    let error: Error | undefined;
    function* inputs(): Generator<number> {
      yield 0;
      yield 1;
      throw new RangeError('input 2 failed');
    }
    try {
      for await (const v of pool.imap(t.square, inputs(), 1)) got.push(v);
    } catch (e) {
      error = e as Error;
    }
    expect(got).toEqual([0, 1]);
    expect(error?.message).toBe('input 2 failed');
    pool.close();
    await pool.join();
  });

  it('starmapAsync refuses an async iterable with a TypeError (was: a crash inside)', async () => {
    const pool = new Pool(1, { module: M });
    async function* gen(): AsyncGenerator<number[]> {
      yield [1, 2];
    }
    expect(() => pool.starmapAsync(t.add, gen() as any)).toThrow(/sync iterable/);
    pool.close();
    await pool.join();
  });

  it("Python's keyword style: new Pool({ processes, ... })", async () => {
    const pool = new Pool({ processes: 1, module: M });
    expect(pool.processes).toBe(1);
    // A misspelt key: the options listed include processes.
    expect(() => new Pool({ processes: 1, bogus: 1 } as never)).toThrow(/expected processes, initializer/);
    expect(await pool.apply(t.add, [1, 1])).toBe(2);
    pool.close();
    await pool.join();
  });

  it("errors keep the task's own cause and an AggregateError's errors", async () => {
    const pool = new Pool(1, { module: M });
    const e = (await pool.apply(t.withCause).catch((x: Error) => x)) as Error;
    expect(e.message).toBe('outer');
    const inWorker = e.cause as Error;
    expect(inWorker.message).toMatch(/outer \(thrown in PoolWorker/);
    expect(inWorker.cause).toBeInstanceOf(TypeError);
    expect((inWorker.cause as Error).message).toBe('inner');
    const a = (await pool.apply(t.aggregate).catch((x: Error) => x)) as AggregateError;
    expect(a).toBeInstanceOf(AggregateError);
    expect(a.errors.map((x: Error) => x.message)).toEqual(['a', 'b']);
    expect(a.errors[0]).toBeInstanceOf(RangeError);
    // A DOMException stays one, with its name and code (was: a plain Error named AbortError, no code).
    const d = (await pool.apply(t.domError).catch((x: Error) => x)) as DOMException;
    expect(d).toBeInstanceOf(DOMException);
    expect([d.name, d.code, d.message]).toEqual(['AbortError', 20, 'the operation was aborted']);
    expect((d.cause as Error).message).toMatch(/^the operation was aborted \(thrown in PoolWorker/);
    pool.close();
    await pool.join();
  });
});

describe('blocking calls', () => {
  it('a blocking call begun while the async reader is mid-read gets every answer (was: a hang, 1 in ~40 runs)', async () => {
    // The async reader took an answer out of the queue and handed it on
    // microtasks later; a mapSync begun in between waited for it for ever.
    const pool = new Pool(2, { module: M });
    const xs = range(40);
    for (let i = 0; i < 150; i++) {
      // Answers still coming while the awaited call resolves: the async reader is busy when the blocking calls begin.
      const more = pool.map(t.slowSquare, xs, { chunksize: 1 });
      await pool.apply(t.add, [i, 1]);
      // A timeout turns the old hang into a failure.
      expect(pool.applySync(t.add, [i, 2], { timeout: 60_000 })).toBe(i + 2);
      expect(pool.mapSync(t.square, xs, { chunksize: 1, timeout: 60_000 })).toEqual(xs.map((x) => x * x));
      await more;
    }
    pool.close();
    await pool.join();
  });
});

describe('stopping tasks', () => {
  it('an abort after the task finished (its answer not read yet) does not kill its worker (was: killed and replaced)', async () => {
    const pool = new Pool(1, { module: M });
    await pool.apply(t.add, [1, 1]); // booted
    const [pid] = pool.pids;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pool-'));
    const file = path.join(dir, 'done');
    const ac = new AbortController();
    const p = pool.apply(t.markAfter, [file, 7], { signal: ac.signal });
    await Promise.resolve(); // sent at the end of this turn
    // Blocks this thread (so the answer is not read) until the worker is done with the task.
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(file)) if (Date.now() > deadline) throw new Error('the task never ran');
    ac.abort();
    await expect(p).rejects.toThrow(AbortError);
    expect(await pool.apply(t.pid)).toBe(pid);
    pool.close();
    await pool.join();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
