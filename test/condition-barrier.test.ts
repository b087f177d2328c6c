// Condition and Barrier across real processes.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AbortError, Barrier, BrokenBarrierError, Condition, Lock, RawArray, Semaphore } from '../dist/index.js';
import { fixture } from './helpers/child';
import { processRunner } from './helpers/processes';
import { waitUntil } from './helpers/shm';

const targets = fixture('sync-targets.mjs');

const t: Record<string, any> = await import(targets);

const { run } = processRunner(targets);

const flagsArray = (n = 8) => RawArray('i', n);

describe('Condition', () => {
  it('notifyAll wakes waiters in other processes; waitFor re-checks its predicate', async () => {
    const cond = new Condition();
    const ready = RawArray('i', 1);
    const flags = flagsArray();
    const ps = [0, 1, 2].map((slot) => run(t.conditionWaiter, cond, ready, flags, slot));
    await waitUntil(() => ready.view[0] === 3, 'three waiters are waiting');
    await cond.acquire();
    cond.notifyAll(); // predicate still false: they must wait again
    cond.release();
    await cond.acquire();
    flags.view[0] = 1;
    cond.notifyAll();
    cond.release();
    for (const p of ps) await p.join();
    expect([...flags.view.slice(1, 4)]).toEqual([1, 1, 1]);
  });

  it('an aborted wait rejects with AbortError, holding the lock again', async () => {
    const cond = new Condition();
    await cond.acquire();
    const ac = new AbortController();
    const pending = cond.wait(undefined, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    expect(inspect(cond.lock)).toContain('locked by this thread');
    cond.release();
  });

  it('wait/notify need the lock; timeouts return false with the lock held again', async () => {
    const cond = new Condition(new Lock());
    expect(() => cond.notify()).toThrow(/does not hold/);
    await expect(cond.wait(1)).rejects.toThrow(/does not hold/);
    cond.acquireSync();
    expect(cond.waitSync(10)).toBe(false);
    expect(await cond.wait(10)).toBe(false);
    expect(cond.lock.locked()).toBe(true);
    cond.release();
    expect(() => new Condition({} as never)).toThrow(TypeError);
  });

  it('owner death: waiters are not stranded by a holder that dies holding the lock', async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    cond.acquireSync();
    const waiting = cond.wait(60_000);
    // Our wait released the lock; a child takes it and dies holding it.
    const flags = flagsArray();
    const holder = run(t.holdForever, lock, flags);
    await waitUntil(() => flags.view[0] === 1, 'the child holds the lock');
    holder.kill();
    expect(await waiting).toBe(true);
    expect(inspect(lock)).toContain('locked by this thread');
    expect(lock.ownerDied).toBe(true);
    cond.release();
  });
});

describe('Barrier', () => {
  it('gives each of n processes a distinct index and runs the action once', async () => {
    const actionName = `test-barrier-action-${process.pid}`;
    process.env.MP_TEST_BARRIER_ACTION = actionName;
    const done = new Semaphore(0, { name: actionName });
    try {
      const barrier = new Barrier(4, { action: t.barrierAction, actionModule: targets });
      const indexes = RawArray('i', 4);
      const ps = [0, 1, 2].map((slot) => run(slot === 1 ? t.barrierPartySync : t.barrierParty, barrier, indexes, slot));
      indexes.view[3] = (await barrier.wait(60_000)) + 1;
      for (const p of ps) await p.join();
      expect([...indexes.view].sort()).toEqual([1, 2, 3, 4]);
      expect(done.getValue()).toBe(1);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    } finally {
      done.unlink();
    }
  });

  it('abort breaks it for current and future waiters until reset; a timeout breaks it too', async () => {
    const barrier = new Barrier(2);
    const waiting = barrier.wait();
    await waitUntil(() => barrier.nWaiting === 1, 'one party waits');
    barrier.abort();
    await expect(waiting).rejects.toThrow(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
    expect(() => barrier.waitSync()).toThrow(BrokenBarrierError);
    barrier.reset();
    expect(barrier.broken).toBe(false);
    expect(() => barrier.waitSync(20)).toThrow(/timed out/);
    expect(barrier.broken).toBe(true);
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(barrier.parties).toBe(2);
  });
});
