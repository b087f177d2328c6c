// The manager-held queues, locks, events, conditions, barriers and values
// (SyncManager.Queue, Lock ... in CPython): every method, from this process
// and from children (real processes), and what happens when a client that
// holds a lock or waits dies (SIGKILL): the lock is released, the barrier
// broken, an item put later not lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayProxy,
  BarrierProxy,
  BrokenBarrierError,
  ConditionProxy,
  Empty,
  Event,
  EventProxy,
  Full,
  JoinableQueueProxy,
  LockProxy,
  Manager,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
} from '../dist/index.js';
import { fixture } from './helpers/child';
import { eventually, processRunner } from './helpers/processes';

const M = fixture('manager-tasks.mjs');
const t: Record<string, any> = await import(M);
const { run } = processRunner(M);

let mgr: Manager;
beforeAll(async () => {
  mgr = new Manager();
  await mgr.start();
});
afterAll(async () => {
  await mgr.shutdown();
});

describe('Queue and JoinableQueue', () => {
  it('put/get async and Sync, timeouts, maxsize, Nowait forms, sizes', async () => {
    const q = mgr.Queue<unknown>(2);
    expect(q).toBeInstanceOf(QueueProxy);
    await q.put({ a: 1 });
    q.putSync([2]);
    expect(q.fullSync()).toBe(true);
    expect(() => q.putNowaitSync(3)).toThrow(Full);
    await expect(q.put(3, { timeout: 20 })).rejects.toThrow(Full);
    await expect(q.put(3, { block: false })).rejects.toBeInstanceOf(Full);
    expect(await q.qsize()).toBe(2);
    expect(await q.get()).toEqual({ a: 1 });
    expect(q.getSync()).toEqual([2]);
    expect(q.emptySync()).toBe(true);
    expect(() => q.getNowaitSync()).toThrow(Empty);
    await expect(q.get(20)).rejects.toBeInstanceOf(Empty);
    // A put that waits for room completes when a get makes some.
    q.putSync(1);
    q.putSync(2);
    const waiting = q.put(3);
    expect(q.getSync()).toBe(1);
    await waiting;
    expect([q.getSync(), q.getSync()]).toEqual([2, 3]);
    expect(() => mgr.Queue(-1)).toThrow(/maxsize must be an integer >= 0/);
    await expect(q.get({ signal: AbortSignal.timeout(10) } as never)).rejects.toThrow(/take no signal/);
  });

  it('serves producers and consumers in other processes', async () => {
    const jobs = mgr.Queue<number | null>();
    const out = mgr.Queue<number>();
    const consumers = [run(t.consume, jobs, out), run(t.consume, jobs, out)];
    const producer = run(t.produce, jobs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await producer.join();
    await jobs.put(null);
    await jobs.put(null);
    for (const c of consumers) await c.join();
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(await out.get());
    expect(got.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    expect(consumers.map((c) => c.exitCode)).toEqual([0, 0]);
  });

  it('JoinableQueue: taskDone and join across processes', async () => {
    const q = mgr.JoinableQueue<number>();
    expect(q).toBeInstanceOf(JoinableQueueProxy);
    const done = mgr.list<number>();
    const worker = run(t.joinableWorker, q, done);
    for (let i = 0; i < 5; i++) await q.put(i);
    expect(await q.join()).toBe(true);
    expect(await done.length()).toBe(5);
    expect(await q.unfinished()).toBe(0);
    expect(q.joinSync(0)).toBe(true);
    expect(() => q.taskDoneSync()).toThrow(/taskDone\(\) called more times/);
    worker.kill();
  });

  it('JoinableQueue counts an item once it is in the queue: a put that timed out or whose process died counts nothing', async () => {
    const q = mgr.JoinableQueue<number>(1);
    await q.put(1);
    await expect(q.put(2, 20)).rejects.toBeInstanceOf(Full);
    expect(await q.unfinished()).toBe(1);
    const ready = new Event();
    const child = run(t.blockedPut, q, ready);
    expect(await ready.wait(30_000)).toBe(true);
    child.kill();
    await child.join();
    expect(await q.get()).toBe(1);
    await q.taskDone();
    expect(await q.join(30_000)).toBe(true);
    expect(await q.unfinished()).toBe(0);
  });

  it('a timeout longer than a timer can run (~24.8 days) waits, not fails at once', async () => {
    const lock = mgr.Lock();
    await lock.acquire();
    const waiting = lock.acquire(3e9);
    await new Promise((r) => setImmediate(r));
    await lock.release();
    expect(await waiting).toBe(true);
    await lock.release();
  });

  it('an item put after its waiting getter died goes to the next getter (not lost)', async () => {
    const q = mgr.Queue<string>();
    const ready = new Event();
    const child = run(t.blockedGet, q, ready);
    expect(await ready.wait(30_000)).toBe(true);
    child.kill();
    await child.join();
    await q.put('kept'); // the dead getter may not have been swept yet: the server checks it is alive
    expect(await q.get({ timeout: 30_000 })).toBe('kept');
  });
});

describe('Lock, RLock, Semaphore', () => {
  it('Lock: acquire/release/locked, timeouts, withLock; exact increments from 4 processes', async () => {
    const lock = mgr.Lock();
    expect(lock).toBeInstanceOf(LockProxy);
    expect(await lock.acquire()).toBe(true);
    expect(await lock.locked()).toBe(true);
    expect(lock.acquireSync({ block: false })).toBe(false);
    expect(await lock.acquire(20)).toBe(false);
    lock.releaseSync();
    expect(() => lock.releaseSync()).toThrow(/unlocked Lock/);
    expect(await lock.withLock(() => 42)).toBe(42);
    const value = mgr.Value('i', 0);
    const children = [1, 2, 3, 4].map(() => run(t.lockedIncrements, lock, value, 100));
    for (const c of children) await c.join();
    expect(children.map((c) => c.exitCode)).toEqual([0, 0, 0, 0]);
    expect(await value.get()).toBe(400);
  });

  it('a lock held by a process that is killed is released (CPython keeps it held for ever)', async () => {
    const lock = mgr.Lock();
    const ready = new Event();
    const never = mgr.Event();
    const child = run(t.holdLock, lock, ready, never);
    expect(await ready.wait(30_000)).toBe(true);
    expect(await lock.acquire({ block: false })).toBe(false);
    child.kill();
    await child.join();
    expect(await lock.acquire({ timeout: 30_000 })).toBe(true);
    await lock.release();
  });

  it('RLock: reentrant for its owner; only the owner releases it', async () => {
    const r = mgr.RLock();
    expect(r).toBeInstanceOf(RLockProxy);
    expect(r.acquireSync()).toBe(true);
    expect(r.acquireSync()).toBe(true);
    r.releaseSync();
    expect(r.lockedSync()).toBe(true);
    r.releaseSync();
    expect(r.lockedSync()).toBe(false);
    expect(() => r.releaseSync()).toThrow(/unlocked RLock/);
  });

  it('Semaphore: counts, timeouts, release(n)', async () => {
    const s = mgr.Semaphore(2);
    expect(s).toBeInstanceOf(SemaphoreProxy);
    expect(s.acquireSync()).toBe(true);
    expect(await s.acquire()).toBe(true);
    expect(await s.acquire({ timeout: 20 })).toBe(false);
    const waiting = s.acquire();
    s.releaseSync(2);
    expect(await waiting).toBe(true);
    expect(await s.getValue()).toBe(1);
    expect(() => s.releaseSync(0)).toThrow(/n must be an integer >= 1/);
    expect(() => mgr.Semaphore(-1)).toThrow(/value must be an integer >= 0/);
  });
});

describe('Event, Condition, Barrier', () => {
  it('Event: a child waits until the parent sets it', async () => {
    const e = mgr.Event();
    expect(e).toBeInstanceOf(EventProxy);
    const out = mgr.list();
    expect(await e.wait(10)).toBe(false);
    const child = run(t.waitEvent, e, out);
    await e.set();
    await child.join();
    expect(await out.toArray()).toEqual([true]);
    expect(e.isSetSync()).toBe(true);
    e.clearSync();
    expect(e.isSetSync()).toBe(false);
  });

  it('Condition: wait/notify across processes, a timed-out wait, errors without the lock', async () => {
    const c = mgr.Condition();
    expect(c).toBeInstanceOf(ConditionProxy);
    const ready = mgr.Event();
    const out = mgr.list();
    const child = run(t.conditionWaiter, c, ready, out);
    expect(await ready.wait(30_000)).toBe(true);
    await c.acquire(); // the waiter released it while it waits
    await c.notify();
    await c.release();
    await child.join();
    expect(await out.toArray()).toEqual(['notified']);
    await c.acquire();
    expect(await c.wait(20)).toBe(false);
    await c.notifyAll();
    await c.release();
    expect(() => c.notifySync()).toThrow(/not acquired/);
    await expect(c.wait()).rejects.toThrow(/not acquired/);
    // Over a Lock of the manager.
    const lock = mgr.Lock();
    const c2 = mgr.Condition(lock);
    expect(c2.acquireSync()).toBe(true);
    expect(lock.lockedSync()).toBe(true);
    c2.releaseSync();
    expect(() => mgr.Condition(mgr.dict() as never)).toThrow(/must be a Lock or RLock/);
  });

  it('Barrier: parties in 3 processes pass together; a timeout breaks it; a dead party breaks it', async () => {
    const b = mgr.Barrier(3);
    expect(b).toBeInstanceOf(BarrierProxy);
    const out = mgr.list<number>();
    const children = [run(t.atBarrier, b, out), run(t.atBarrier, b, out)];
    const mine = await b.wait();
    for (const c of children) await c.join();
    expect([mine, ...(await out.toArray())].sort()).toEqual([0, 1, 2]);
    expect(await b.parties()).toBe(3);
    expect(await b.nWaiting()).toBe(0);
    await expect(b.wait(20)).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(await b.broken()).toBe(true);
    await b.reset();
    expect(await b.broken()).toBe(false);
    const ready = new Event();
    const child = run(t.waitAtBarrier, b, ready);
    expect(await ready.wait(30_000)).toBe(true);
    await eventually(async () => (await b.nWaiting()) === 1, 'the child at the barrier');
    child.kill();
    await child.join();
    await eventually(() => b.brokenSync(), 'the barrier to break');
    await b.abort();
  });
});

describe('Value and Array', () => {
  it('Value: typed as its typecode (wraps, bigint, char), atomic increment', async () => {
    const v = mgr.Value('b', 127);
    expect(v).toBeInstanceOf(ValueProxy);
    expect(await v.increment()).toBe(-128); // int8 wraps, as a Value does
    const big = mgr.Value('q', 1n);
    expect(big.incrementSync(2n)).toBe(3n);
    const c = mgr.Value('c', 'a');
    expect(c.getSync()).toBe('a');
    expect(() => c.setSync('ab')).toThrow(/one-character string/);
    expect(() => v.setSync(1.5)).toThrow(/must be an integer/);
    expect(() => mgr.Value('zz' as never)).toThrow(/unknown typecode/);
    expect(mgr.Value('d').getSync()).toBe(0);
  });

  it('Array: get/set with negative indexes, increment, slice, iteration, errors', async () => {
    const a = mgr.Array('i', [1, 2, 3]);
    expect(a).toBeInstanceOf(ArrayProxy);
    expect(await a.get(-1)).toBe(3);
    await a.set(0, 10);
    expect(a.incrementSync(1, 5)).toBe(7);
    expect(await a.toArray()).toEqual([10, 7, 3]);
    expect(await a.slice(1)).toEqual([7, 3]);
    expect(await a.length()).toBe(3);
    const seen: number[] = [];
    for await (const x of a) seen.push(x);
    expect(seen).toEqual([10, 7, 3]);
    expect(mgr.Array('d', 2).toArraySync()).toEqual([0, 0]);
    expect(() => a.getSync(3)).toThrow(RangeError);
    expect(() => mgr.Array('i', {} as never)).toThrow(/give a length or an array/);
  });
});
