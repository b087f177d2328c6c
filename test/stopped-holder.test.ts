// A process stopped (SIGSTOP, a debugger) while it holds a queue's internal
// lock: every other process's operations honour their timeouts, and the
// async ones never block the event loop. Regression of
// shared/repro/stopped-holder-blocks-event-loop.mjs (the ring's lock was
// taken with no deadline). The stopped holder is made exactly: a stopped
// process whose identity is written into the lock, as if it had stopped
// inside put().
import { describe, expect, it } from 'vitest';
import { Barrier, BrokenBarrierError, Empty, Full, Lock, Queue } from '../dist/index.js';
import { RING_OFFSET } from '../dist/binding/layout.js';
import { fixture } from './helpers/child';
import { stampOf, writeOwner } from './helpers/identity';
import { nameOf } from './helpers/names';
import { processRunner } from './helpers/processes';

const targets = fixture('holder-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);

async function stoppedProcess(): Promise<{ pid: number; stamp: number; kill: () => Promise<void> }> {
  const p = run(t.idle);
  const pid = p.pid!;
  const stamp = stampOf(pid);
  p.sendSignal('SIGSTOP');
  return {
    pid,
    stamp,
    kill: async () => {
      p.kill();
      p.sendSignal('SIGCONT');
      await p.join();
    },
  };
}

describe('a holder stopped inside an internal lock', () => {
  it("queue: Nowait, sync and async operations give up in time; the event loop keeps turning; a dead holder's lock is taken over", async () => {
    const q = new Queue();
    q.putSync('x');
    const holder = await stoppedProcess();
    writeOwner(`/dev/shm/${nameOf(q)}`, RING_OFFSET, holder.pid, holder.stamp);
    expect(() => q.getNowait()).toThrow(Empty);
    expect(() => q.getSync({ timeout: 100 })).toThrow(Empty);
    expect(() => q.putNowait('y')).toThrow(Full);
    expect(() => q.putSync('y', { timeout: 100 })).toThrow(Full);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await expect(q.get({ timeout: 300 })).rejects.toThrow(Empty);
    await expect(q.put('y', { timeout: 300 })).rejects.toThrow(Full);
    const ac = new AbortController();
    const aborted = q.get({ signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(aborted).rejects.toThrow(/aborted/);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0); // timers ran while the gets waited
    await holder.kill();
    expect(q.getSync({ timeout: 30_000 })).toBe('x'); // taken over from the dead holder
    q.putSync('z');
    expect(await q.get({ timeout: 30_000 })).toBe('z');
  });

  it('queue: shutdown({ immediate }) shuts it down but says so when it cannot drop the items; gets drain them later', async () => {
    const q = new Queue();
    q.putSync('left');
    const holder = await stoppedProcess();
    writeOwner(`/dev/shm/${nameOf(q)}`, RING_OFFSET, holder.pid, holder.stamp);
    expect(() => q.shutdown({ immediate: true })).toThrow(/could not be dropped/);
    expect(q.isShutDown).toBe(true);
    expect(() => q.putNowait('more')).toThrow(/shut down/);
    await holder.kill();
    expect(q.getSync({ timeout: 30_000 })).toBe('left');
    expect(() => q.getSync({ timeout: 30_000 })).toThrow(/shut down/);
  });

  it('Barrier: wait(timeout) gives up when its internal lock stays held', async () => {
    const b = new Barrier(2);
    const holder = await stoppedProcess();
    // The barrier's internal lock is the first word of its state (ts/binding/layout.ts BARRIER.lock).
    writeOwner(`/dev/shm/${nameOf(b)}`, 1024, holder.pid, holder.stamp);
    await expect(b.wait(100)).rejects.toThrow(BrokenBarrierError);
    expect(() => b.waitSync(100)).toThrow(BrokenBarrierError);
    await holder.kill();
    b.reset(); // the dead holder's lock is taken over (and the barrier broken, then reset)
    const [x, y] = await Promise.all([b.wait(30_000), b.wait(30_000)]);
    expect([x, y].sort()).toEqual([0, 1]);
  });

  it('Lock: acquire({ timeout }) and acquireSync({ timeout }) give up; the event loop keeps turning', async () => {
    const lock = new Lock();
    const holder = await stoppedProcess();
    writeOwner(`/dev/shm/${nameOf(lock)}`, 1024, holder.pid, holder.stamp);
    expect(lock.acquireSync({ timeout: 100 })).toBe(false);
    expect(lock.acquireSync({ block: false })).toBe(false);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    expect(await lock.acquire({ timeout: 300 })).toBe(false);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    await holder.kill();
    expect(lock.acquireSync({ timeout: 30_000 })).toBe(true);
    expect(lock.ownerDied).toBe(true);
    lock.release();
  });
});
