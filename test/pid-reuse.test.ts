// A dead holder's thread id handed to another process (the kernel reuses
// pids; pid_max is 32768 on many machines) must not keep its locks held:
// owners are told apart by a stamp of their start time (native/core/lock.h).
// Regressions of shared/repro/lock-dead-owner-pid-reused.mjs and
// queue-dead-holder-pid-reused.mjs. Forcing a pid's reuse needs root
// (/proc/sys/kernel/ns_last_pid); CI runs as root, elsewhere these skip.
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Barrier, BrokenBarrierError, Event, Lock, Queue } from '../dist/index.js';
import { RING_OFFSET } from '../dist/binding/layout.js';
import { fixture } from './helpers/child';
import { canForcePids, reusePid, stampOf, writeOwner } from './helpers/identity';
import { nameOf } from './helpers/names';
import { processRunner } from './helpers/processes';

const targets = fixture('holder-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);

const strangers: ChildProcess[] = [];
afterEach(async () => {
  for (const s of strangers.splice(0)) {
    s.kill('SIGKILL');
    if (s.exitCode === null && s.signalCode === null) await new Promise((resolve) => s.once('exit', resolve));
  }
});

async function stranger(pid: number): Promise<void> {
  const s = await reusePid(pid);
  if (!s) throw new Error(`could not get pid ${pid} reused (the machine is busy); run again`);
  strangers.push(s);
}

describe.skipIf(!canForcePids())('pid reuse', () => {
  it('Lock: the holder died, a stranger got its pid: acquire() still takes the lock over', async () => {
    for (const form of ['sync', 'async'] as const) {
      const lock = new Lock();
      const p = run(t.dieHolding, lock);
      await p.join();
      expect(lock.locked()).toBe(true);
      await stranger(p.pid!);
      const got = form === 'sync' ? lock.acquireSync({ timeout: 30_000 }) : await lock.acquire({ timeout: 30_000 });
      expect(got).toBe(true);
      expect(lock.ownerDied).toBe(true);
      lock.release();
    }
  });

  it("Queue: a producer died holding the ring's lock, a stranger got its pid: getNowait() does not block, the queue works", async () => {
    const q = new Queue();
    q.putSync('x');
    const p = run(t.idle);
    const pid = p.pid!;
    const stamp = stampOf(pid);
    p.kill();
    await p.join();
    writeOwner(`/dev/shm/${nameOf(q)}`, RING_OFFSET, pid, stamp); // as if it had died inside put()
    // A stamp has the kernel's clock-tick resolution (10 ms): a stranger
    // started within the same tick would look like the dead holder. Natural
    // reuse takes a wrap of every pid; here, let a few ticks pass.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await stranger(pid);
    expect(q.getNowait()).toBe('x');
    q.putSync('y');
    expect(await q.get({ timeout: 30_000 })).toBe('y');
  });

  it('Barrier: a party died and a stranger got its pid: the others still see it dead', async () => {
    const b = new Barrier(3);
    const arrived = new Event();
    const p = run(t.partyThenDie, b, arrived);
    expect(await arrived.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    p.kill();
    await p.join();
    await stranger(p.pid!);
    await expect(b.wait(600_000)).rejects.toThrow(BrokenBarrierError);
    b.reset();
  });
});
