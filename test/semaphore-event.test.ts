// Semaphore, BoundedSemaphore and Event across real processes.
import { describe, expect, it } from 'vitest';
import { AbortError, BoundedSemaphore, Event, RawArray, Semaphore } from '../dist/index.js';
import { fixture } from './helpers/child';
import { processRunner } from './helpers/processes';

const targets = fixture('sync-targets.mjs');

const t: Record<string, any> = await import(targets);

const { run } = processRunner(targets);

describe('Semaphore and BoundedSemaphore', () => {
  it('counts across processes; timeouts; getValue', async () => {
    const sem = new Semaphore(0);
    const got = RawArray('i', 1);
    const taker = run(t.semaphoreTaker, sem, got);
    sem.release(2);
    sem.release();
    await taker.join();
    expect(got.view[0]).toBe(3);
    expect(sem.getValue()).toBe(0);
    expect(sem.acquireSync({ timeout: 10 })).toBe(false);
    expect(await sem.acquire({ timeout: 10 })).toBe(false);
    sem.release();
    expect(await sem.acquire()).toBe(true);
  });

  it('rejects bad values; BoundedSemaphore refuses to exceed its initial value', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
    const b = new BoundedSemaphore(2);
    expect(() => b.release()).toThrow(RangeError);
    b.acquireSync();
    b.release();
    expect(() => b.release(0)).toThrow(RangeError);
    expect(b.getValue()).toBe(2); // still usable, unchanged
    expect(b.acquireSync({ block: false })).toBe(true);
  });
});

describe('Event', () => {
  it('is set by another process; wait times out while clear', async () => {
    const event = new Event();
    expect(event.isSet()).toBe(false);
    expect(event.waitSync(10)).toBe(false);
    expect(await event.wait(10)).toBe(false);
    run(t.setEventLater, event);
    expect(await event.wait(60_000)).toBe(true);
    expect(event.waitSync(0)).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
    const ac = new AbortController();
    const pending = event.wait(undefined, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
  });
});
