// Lock and RLock across real processes, including holders killed with SIGKILL.
import { describe, expect, it } from 'vitest';
import { AbortError, Lock, RLock, RawArray } from '../dist/index.js';
import { LOCK, STATE } from '../dist/binding/layout.js';
import { fixture } from './helpers/child';
import { processRunner } from './helpers/processes';
import { waitUntil } from './helpers/shm';

const targets = fixture('sync-targets.mjs');

const t: Record<string, any> = await import(targets);

const { run } = processRunner(targets);

const flagsArray = (n = 8) => RawArray('i', n);

describe('Lock', () => {
  it('excludes across 4 processes (sync and async acquirers): a shared counter stays exact', async () => {
    const lock = new Lock();
    const counter = RawArray('i', 1);
    const ps = [false, true, false, true].map((useAsync) => run(t.count, lock, counter, 5000, useAsync));
    for (const p of ps) await p.join();
    expect(ps.map((p) => p.exitCode)).toEqual([0, 0, 0, 0]);
    expect(counter.view[0]).toBe(20_000);
  });

  it('acquireSync: block false, timeouts; locked(); release of an unlocked Lock throws', async () => {
    const lock = new Lock();
    expect(lock.locked()).toBe(false);
    expect(lock.acquireSync()).toBe(true);
    expect(lock.locked()).toBe(true);
    expect(lock.acquireSync({ block: false })).toBe(false);
    expect(lock.acquireSync({ timeout: 10 })).toBe(false);
    expect(await lock.acquire({ timeout: 10 })).toBe(false);
    lock.release();
    expect(() => lock.release()).toThrow('release() called on an unlocked Lock');
    expect(lock.acquireSync({ block: false })).toBe(true); // still usable
    lock.release();
    expect(() => lock.acquireSync({ timeout: -1 })).toThrow(RangeError);
    expect(() => lock.acquireSync({ blok: false } as never)).toThrow(/unknown acquireSync option "blok"/);
  });

  it('any process may release a Lock (as in Python); withLock releases on throw', async () => {
    const lock = new Lock();
    lock.acquireSync();
    const p = run(t.release, lock);
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(lock.locked()).toBe(false);
    await expect(
      lock.withLock(() => {
        throw new Error('inside');
      }),
    ).rejects.toThrow('inside');
    expect(lock.locked()).toBe(false);
    expect(await lock.withLock(() => 42)).toBe(42);
  });

  it('an aborted acquire rejects with AbortError and leaves the lock usable', async () => {
    const lock = new Lock();
    lock.acquireSync();
    const ac = new AbortController();
    const pending = lock.acquire({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    lock.release();
    expect(await lock.acquire({ timeout: 1000 })).toBe(true);
    lock.release();
  });

  it('has the layout native/core/lock.h declares: owner, sleepers, count', async () => {
    const lock = new RLock();
    const words = (lock as unknown as { _owner: { state: { i32: Int32Array } } })._owner.state.i32;
    const flags = flagsArray();
    const holder = run(t.holdForever, lock, flags);
    await waitUntil(() => flags.view[0] === 1, 'the child holds the lock');
    expect(words[STATE + LOCK.owner]).toBe(holder.pid);
    expect(words[STATE + LOCK.count]).toBe(1);
    const pending = lock.acquire();
    expect(words[STATE + LOCK.sleepers]).toBe(1); // announced by the async waiter
    holder.kill();
    await pending;
    expect(words[STATE + LOCK.owner]).toBe(process.pid);
    lock.release();
  });

  for (const form of ['acquireSync', 'acquire'] as const) {
    it(`owner death: a SIGKILLed holder's lock passes to the next ${form}(), which can tell`, async () => {
      const lock = new Lock();
      const flags = flagsArray();
      const holder = run(t.holdForever, lock, flags);
      await waitUntil(() => flags.view[0] === 1, 'the child holds the lock');
      const started = form === 'acquire' ? lock.acquire({ timeout: 60_000 }) : undefined;
      holder.kill();
      await holder.join();
      const got = form === 'acquire' ? await started : lock.acquireSync({ timeout: 60_000 });
      expect(got).toBe(true);
      expect(lock.ownerDied).toBe(true);
      lock.release();
      lock.acquireSync();
      expect(lock.ownerDied).toBe(false); // a normal acquisition clears it
      lock.release();
    });
  }

  it("owner death: even a non-blocking acquire gets a dead holder's lock", async () => {
    const lock = new Lock();
    const flags = flagsArray();
    const holder = run(t.holdForever, lock, flags);
    await waitUntil(() => flags.view[0] === 1, 'the child holds the lock');
    holder.kill();
    await holder.join();
    expect(lock.acquireSync({ block: false })).toBe(true);
    expect(lock.ownerDied).toBe(true);
    lock.release();
  });
});

describe('RLock', () => {
  it('is re-entrant; only its owner releases it; too many releases throw', async () => {
    const lock = new RLock();
    expect(lock.acquireSync()).toBe(true);
    expect(lock.acquireSync()).toBe(true); // sync: re-entrant by thread
    const flags = flagsArray();
    const p = run(t.tryRelease, lock, flags);
    await p.join();
    expect(flags.view[1]).toBe(2); // "held by another thread or process"
    lock.release();
    expect(lock.locked()).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
    expect(() => lock.release()).toThrow('cannot release an RLock that is not acquired');
    // async: re-entrant inside its own withLock (tasks of one thread exclude each other)
    expect(await lock.withLock(() => lock.withLock(async () => (await lock.acquire()) && (lock.release(), 'nested')))).toBe('nested');
    expect(lock.locked()).toBe(false);
  });

  it('owner death: taken over from a SIGKILLed holder, with the depth reset', async () => {
    const lock = new RLock();
    const flags = flagsArray();
    const holder = run(t.holdForever, lock, flags);
    await waitUntil(() => flags.view[0] === 1, 'the child holds the lock');
    holder.kill();
    expect(lock.acquireSync({ timeout: 60_000 })).toBe(true);
    expect(lock.ownerDied).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  });
});
