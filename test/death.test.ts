// Processes killed while they take part in a JoinableQueue, a Barrier, a
// Condition or a Semaphore: the others are not deadlocked, counts stay
// right, and every wait honours its timeout. Regressions of
// shared/repro/joinable-killed-producer.mjs, barrier-dead-party.mjs and
// condition-dead-waiter-overwake.mjs.
import { describe, expect, it } from 'vitest';
import { Barrier, BrokenBarrierError, Condition, Event, JoinableQueue, Semaphore, Value } from '../dist/index.js';
import { fixture } from './helpers/child';
import { processRunner } from './helpers/processes';

const targets = fixture('death-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);

// Resolves with what `p` settles to, or 'pending' after `ms` (a generous bound: a hang shows as 'pending').
const within = async (p: Promise<unknown>, ms: number): Promise<unknown> =>
  Promise.race([
    p.then(
      (v) => `resolved ${String(v)}`,
      (e: Error) => `rejected ${e.name}`,
    ),
    new Promise((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

describe('JoinableQueue', () => {
  it('a producer killed inside put() adds nothing: join() resolves once the real items are done (was a deadlock)', async () => {
    const q = new JoinableQueue(1);
    await q.put('first');
    const waiting = new Event();
    const p = run(t.blockedProducer, q, waiting);
    expect(await waiting.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100)); // inside put(), most likely waiting for room
    p.kill();
    await p.join();
    expect(await q.get({ timeout: 10_000 })).toBe('first');
    expect(q.unfinished()).toBe(1); // taken, not yet done
    q.taskDone();
    expect(q.unfinished()).toBe(0);
    expect(await within(q.join(), 30_000)).toBe('resolved true');
  });

  it('a consumer killed holding an item it took does not keep join() waiting for ever', async () => {
    const q = new JoinableQueue();
    q.putSync('job');
    const took = new Event();
    const p = run(t.consumerDiesHolding, q, took);
    expect(await took.wait(60_000)).toBe(true);
    expect(q.unfinished()).toBe(1);
    const joined = q.join();
    p.kill();
    await p.join();
    expect(await within(joined, 30_000)).toBe('resolved true');
    expect(() => q.taskDone()).toThrow(/more times than items were taken/);
  });

  it('an item taken but impossible to decode (what it names is gone) throws, and join() does not wait for it', async () => {
    const q = new JoinableQueue();
    const name = `test-undecodable-${process.pid}`;
    await run(t.putGone, q, name).join();
    expect(() => q.getSync()).toThrow(/no longer exists/);
    expect(q.unfinished()).toBe(0);
    q.joinSync();
    await run(t.putGone, q, name).join();
    const joined = q.join();
    await expect(q.get()).rejects.toThrow(/no longer exists/);
    expect(await within(joined, 30_000)).toBe('resolved true');
  });

  it('taskDone() may come from another thread than the one that took the item', async () => {
    const q = new JoinableQueue();
    q.putSync(1);
    q.putSync(2);
    expect(q.getSync()).toBe(1);
    expect(q.getSync()).toBe(2);
    q.taskDone();
    q.taskDone();
    q.joinSync();
    expect(q.unfinished()).toBe(0);
  });
});

describe('Barrier', () => {
  it('a party killed while waiting breaks the barrier; every later wait honours its timeout; reset() recovers it', async () => {
    const b = new Barrier(2);
    const arrived = new Event();
    const p = run(t.party, b, arrived);
    expect(await arrived.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100)); // waiting in the barrier
    p.kill();
    await p.join();
    // The dead party is not counted as arrived: this wait is not released early.
    expect(await within(b.wait(500), 30_000)).toBe('rejected BrokenBarrierError');
    expect(b.broken).toBe(true);
    expect(await within(b.wait(500), 30_000)).toBe('rejected BrokenBarrierError');
    b.reset();
    expect(b.broken).toBe(false);
    expect(b.nWaiting).toBe(0);
    // Usable again: a cycle of two completes.
    const [x, y] = await Promise.all([b.wait(30_000), b.wait(30_000)]);
    expect([x, y].sort()).toEqual([0, 1]);
  });

  it('a live party sees a party that dies while it waits: BrokenBarrierError within moments, not at the timeout', async () => {
    const b = new Barrier(3);
    const arrived = new Event();
    const p = run(t.party, b, arrived);
    expect(await arrived.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const mine = b.wait(600_000);
    setTimeout(() => p.kill(), 50);
    expect(await within(mine, 30_000)).toBe('rejected BrokenBarrierError');
    await p.join();
    b.reset();
  });

  it('abort() in the same tick as wait() rejects that wait at once (was left pending past its timeout)', async () => {
    const b = new Barrier(2);
    const pending = b.wait(1000);
    b.abort();
    expect(await within(pending, 30_000)).toBe('rejected BrokenBarrierError');
    b.reset();
    const again = b.wait(1000);
    b.reset();
    expect(await within(again, 30_000)).toBe('rejected BrokenBarrierError');
    await expect(b.wait(10)).rejects.toThrow(BrokenBarrierError); // a timeout breaks it, as in Python
    b.reset();
  });
});

describe('Barrier: abort() and the action', () => {
  it("an abort() racing a cycle's release is never undone: the barrier stays broken until reset()", async () => {
    const b = new Barrier(2);
    const stop = new Event();
    const ready = [new Event(), new Event()];
    const kids = ready.map((r) => run(t.cycler, b, stop, r));
    for (const r of ready) expect(await r.wait(60_000)).toBe(true);
    const spin = (us: number): void => {
      const end = performance.now() + us / 1000;
      while (performance.now() < end);
    };
    let lost = 0;
    for (let i = 0; i < 2000; i++) {
      b.reset();
      spin((i % 20) * 10); // land the abort at varying points of the cycles
      b.abort();
      spin(50); // a release that was under way when abort() returned ends now
      if (!b.broken) lost++;
    }
    stop.set();
    b.reset();
    for (const p of kids) await p.join();
    expect(lost).toBe(0);
  });

  it('a caller waiting while a full cycle runs its action is released with BrokenBarrierError when the runner dies', async () => {
    const b = new Barrier(1, { action: t.stuckAction, actionModule: targets });
    const started = new Event();
    const runner = run(t.actionRunner, b, started);
    expect(await started.wait(60_000)).toBe(true);
    const mine = b.wait(600_000); // the cycle is full: this one waits for the next
    setTimeout(() => runner.kill(), 50);
    expect(await within(mine, 30_000)).toBe('rejected BrokenBarrierError');
    await runner.join();
    b.reset();
  });
});

describe('Condition', () => {
  it('a killed waiter is not counted: notify(1) wakes exactly one live waiter (was two)', async () => {
    const cond = new Condition();
    const woke = new Value('i', 0);
    const r0 = new Event();
    const dead = run(t.waiter, cond, r0, woke, 600_000);
    expect(await r0.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    dead.kill();
    await dead.join();
    cond.acquireSync();
    cond.notify(1); // goes to the dead waiter; no live one waits yet
    cond.release();
    const live = [];
    for (let i = 0; i < 3; i++) {
      const ready = new Event();
      live.push(run(t.waiter, cond, ready, woke, 3000));
      expect(await ready.wait(60_000)).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // all three are waiting
    cond.acquireSync();
    cond.notify(1);
    cond.release();
    for (const p of live) await p.join();
    expect(woke.value).toBe(1);
  });

  it('a notification given to a waiter that then died goes to the next waiter that was already waiting', async () => {
    const cond = new Condition();
    const woke = new Value('i', 0);
    const r0 = new Event();
    const doomed = run(t.waiter, cond, r0, woke, 600_000);
    expect(await r0.wait(60_000)).toBe(true);
    const r1 = new Event();
    const survivor = run(t.waiter, cond, r1, woke, 30_000);
    expect(await r1.wait(60_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    doomed.sendSignal('SIGSTOP'); // it cannot take the notification...
    cond.acquireSync();
    cond.notify(1); // ...which goes to the oldest waiter: the doomed one
    cond.release();
    doomed.kill();
    await doomed.join();
    await survivor.join(); // passed on to it within moments, long before its 30 s timeout
    expect(woke.value).toBe(1);
  });
});

describe('Semaphore', () => {
  it('loses the unit of a holder that dies (as in Python), unless it tracks its holders', async () => {
    for (const trackHolders of [false, true]) {
      const sem = new Semaphore(1, { trackHolders });
      const took = new Event();
      const p = run(t.semaphoreHolder, sem, took);
      expect(await took.wait(60_000)).toBe(true);
      p.kill();
      await p.join();
      const got = await sem.acquire({ timeout: trackHolders ? 30_000 : 200 });
      expect(got).toBe(trackHolders);
      if (got) sem.release();
    }
  });

  it('with trackHolders, release() must come from a holder', () => {
    const sem = new Semaphore(1, { trackHolders: true });
    expect(() => sem.release()).toThrow(/holds 0 units/);
    expect(sem.acquireSync()).toBe(true);
    sem.release();
    expect(sem.getValue()).toBe(1);
  });
});
