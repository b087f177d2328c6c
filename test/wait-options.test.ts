// Every wait takes its timeout Python's way (a number of ms) or JavaScript's
// ({ timeout, signal }), through one driver (ts/wait/driver.ts): what a
// timeout and an abort do, and the bad arguments it refuses.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BARRIER, STATE } from '../dist/binding/layout.js';
import { stampOf, writeOwner } from './helpers/identity';
import { nameOf } from './helpers/names';
import { AbortError, Barrier, BrokenBarrierError, Condition, Event, JoinableQueue, Lock, Process, Semaphore } from '../dist/index.js';
import { fixture } from './helpers/child';

describe('wait options', () => {
  it('JoinableQueue.join takes a timeout and a signal (Python has neither)', async () => {
    const q = new JoinableQueue<number>();
    q.putSync(1);
    expect(await q.join(5)).toBe(false);
    expect(await q.join({ timeout: 5 })).toBe(false);
    expect(q.joinSync(5)).toBe(false);
    expect(q.joinSync({ timeout: 0 })).toBe(false);
    const ac = new AbortController();
    const pending = q.join({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    q.getSync();
    q.taskDone();
    expect(await q.join(60_000)).toBe(true);
    expect(q.joinSync()).toBe(true);
    q.close();
  });

  it('Event.wait takes (ms), ({ timeout, signal }) and (ms, { signal })', async () => {
    const e = new Event();
    expect(await e.wait(1)).toBe(false);
    expect(await e.wait({ timeout: 1 })).toBe(false);
    const ac = new AbortController();
    const pending = e.wait(60_000, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    expect(e.waitSync({ timeout: 1 })).toBe(false);
    e.set();
    expect(e.waitSync(0)).toBe(true);
    expect(await e.wait({ timeout: 0 })).toBe(true);
  });

  it('acquire takes a number of ms as its timeout', async () => {
    const s = new Semaphore(0);
    expect(await s.acquire(1)).toBe(false);
    expect(s.acquireSync(1)).toBe(false);
    s.release();
    expect(s.acquireSync(0)).toBe(true);
    const lock = new Lock();
    lock.acquireSync();
    expect(await lock.acquire(1)).toBe(false);
    expect(lock.acquireSync(1)).toBe(false);
    lock.release();
  });

  it('Barrier.wait takes a signal: an aborted party leaves and breaks the barrier, as a timed-out one does', async () => {
    const b = new Barrier(3);
    const ac = new AbortController();
    const first = b.wait({ signal: ac.signal });
    const second = b.wait(60_000);
    ac.abort();
    await expect(first).rejects.toThrow(AbortError);
    await expect(second).rejects.toThrow(BrokenBarrierError);
    expect(b.broken).toBe(true);
    b.reset();
    expect(b.broken).toBe(false);
    await expect(b.wait({ timeout: 1 })).rejects.toThrow(BrokenBarrierError);
    expect(() => b.waitSync({ signal: ac.signal } as never)).toThrow(/unknown Barrier.waitSync option/);
    await expect(new Barrier(1).wait({ signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
    expect(await new Barrier(1).wait({ timeout: 5 })).toBe(0);
  });

  it("an aborted Barrier party still breaks the barrier when the barrier's internal lock is held (its clean-up is not aborted again)", async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const pending = b.wait({ signal: ac.signal });
    // As if another live thread held the internal lock (we do: our own id and stamp).
    const file = `/dev/shm/${nameOf(b)}`;
    const lockAt = (STATE + BARRIER.lock) * 4;
    writeOwner(file, lockAt, process.pid, stampOf(process.pid));
    try {
      ac.abort();
      await expect(pending).rejects.toThrow(AbortError);
    } finally {
      writeOwner(file, lockAt, 0, 0);
    }
    expect(b.broken).toBe(true);
    b.reset();
  });

  it('Condition.wait and waitFor take (ms), ({ timeout, signal }); an abort gives the lock back held', async () => {
    const cond = new Condition();
    cond.acquireSync();
    expect(await cond.wait({ timeout: 1 })).toBe(false);
    expect(cond.waitSync({ timeout: 1 })).toBe(false);
    expect(await cond.waitFor(() => false, 1)).toBe(false);
    expect(cond.waitForSync(() => 0, { timeout: 1 })).toBe(0);
    const ac = new AbortController();
    const pending = cond.waitFor(() => false, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    expect(inspect(cond.lock)).toContain('locked by this thread');
    cond.release();
  });

  it('Process.join takes (ms), ({ timeout, signal }); an abort rejects and leaves the child running', async () => {
    const targets = fixture('holder-targets.mjs');
    const t = (await import(targets)) as Record<string, (...args: unknown[]) => unknown>;
    const p = new Process({ target: t.idle, module: targets, daemon: true });
    p.start();
    try {
      await p.join(1);
      expect(p.exitCode).toBe(null);
      await p.join({ timeout: 1 });
      p.joinSync({ timeout: 1 });
      expect(p.isAlive()).toBe(true);
      const ac = new AbortController();
      const pending = p.join({ signal: ac.signal });
      ac.abort();
      await expect(pending).rejects.toThrow(AbortError);
      expect(p.isAlive()).toBe(true);
    } finally {
      p.kill();
      await p.join();
    }
    expect(p.exitCode).not.toBe(null);
  });

  it('refuses a timeout given twice, unknown options, a bad signal or timeout', async () => {
    const e = new Event();
    await expect(e.wait(5, { timeout: 5 })).rejects.toThrow(/give the timeout once/);
    await expect(e.wait({ timeout: 5 }, {})).rejects.toThrow(/give the options once/);
    await expect(e.wait({ timout: 5 } as never)).rejects.toThrow(/unknown Event.wait option "timout"/);
    await expect(e.wait({ signal: 'x' } as never)).rejects.toThrow(/AbortSignal/);
    await expect(e.wait(-1)).rejects.toThrow(RangeError);
    await expect(e.wait(Number.NaN)).rejects.toThrow(TypeError);
    expect(() => e.waitSync({ signal: new AbortController().signal } as never)).toThrow(/unknown Event.waitSync option "signal"/);
    const q = new JoinableQueue();
    await expect(q.join(5, 'x' as never)).rejects.toThrow(TypeError);
    const aborted = AbortSignal.abort();
    await expect(q.join({ signal: aborted })).rejects.toThrow(AbortError);
    q.close();
  });
});
