// How long an unnamed object lives (ts/shm/shared_state.ts): while anyone
// can still use it -- its creator's object, any process that received it,
// a handle in flight -- and not after. Regression of
// shared/repro/gc-unlinks-shared-handle.mjs: the creator's collection
// unlinked a Lock whose handle was in a queue item, and the item could not
// be received. Every case forces collections in both processes.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Event, Lock, Queue, Value } from '../dist/index.js';
import { fixture } from './helpers/child';
import { collect, nameOf } from './helpers/names';
import { processRunner } from './helpers/processes';
import { waitUntil } from './helpers/shm';

const targets = fixture('object-lifetime-targets.mjs');

const t: Record<string, any> = await import(targets);
const { run } = processRunner(targets);
const exists = (name: string): boolean => fs.existsSync(`/dev/shm/${name}`);

describe('the lifetime of unnamed objects', () => {
  it('objects inside queue items outlive the sender dropping and collecting them (was: items that could not be received)', async () => {
    const q = new Queue();
    const results = new Queue();
    const N = 50;
    const names: string[] = [];
    const send = async (i: number): Promise<void> => {
      const item = { lock: new Lock(), counter: new Value('i', i) };
      names.push(nameOf(item.lock), nameOf(item.counter));
      await q.put(item);
    };
    for (let i = 0; i < N; i++) await send(i); // nothing here refers to the items any more
    await collect();
    expect(names.filter((n) => !exists(n))).toEqual([]);
    const consumer = run(t.useItems, q, results, N);
    const got: Array<{ ok: boolean; value: number; error?: string }> = [];
    for (let i = 0; i < N; i++) got.push((await results.get({ timeout: 60_000 })) as never);
    await consumer.join();
    expect(got.filter((r) => !r.ok)).toEqual([]);
    expect(got.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Received, used, dropped by a consumer that has exited, dropped here: gone.
    await collect();
    await waitUntil(() => names.every((n) => !exists(n)), "the items' objects are unlinked");
  });

  it('a receiver keeps using an object its creator dropped and collected', async () => {
    const box = new Queue();
    const results = new Queue();
    const ready = new Event();
    const go = new Event();
    let lock: Lock | null = new Lock();
    const name = nameOf(lock);
    await box.put({ lock });
    lock = null;
    const p = run(t.holdThenUse, box, ready, go, results);
    expect(await ready.wait(60_000)).toBe(true);
    await collect(); // the creator's object is gone now
    expect(exists(name)).toBe(true);
    go.set();
    expect(await results.get({ timeout: 60_000 })).toBe(true);
    await p.join();
    await collect();
    await waitUntil(() => !exists(name), 'the lock is unlinked once its receiver exited and its creator collected it');
  });

  it('is unlinked once every process that had it dropped it, while both still run', async () => {
    const box = new Queue();
    const done = new Event();
    const go = new Event();
    let value: Value<'i'> | null = new Value('i', 1);
    const name = nameOf(value);
    await box.put(value);
    const p = run(t.dropAndCollect, box, done, go);
    expect(await done.wait(60_000)).toBe(true);
    expect(exists(name)).toBe(true); // this process still has it
    value = null;
    await collect();
    await waitUntil(() => !exists(name), 'the value is unlinked');
    expect(p.isAlive()).toBe(true); // the receiver did not have to exit for that
    go.set();
    await p.join();
  });

  it('a receiver that was killed holding it does not keep it for ever: its entry is cleared', async () => {
    const box = new Queue();
    const ready = new Event();
    let lock: Lock | null = new Lock();
    const name = nameOf(lock);
    await box.put(lock);
    const p = run(t.holdUntilKilled, box, ready);
    expect(await ready.wait(60_000)).toBe(true);
    p.kill();
    await p.join();
    lock = null;
    await collect();
    await waitUntil(() => !exists(name), "the lock is unlinked once its dead receiver's entry is cleared");
  });

  it("Process arguments outlive their creator's objects too", async () => {
    const ready = new Event();
    const go = new Event();
    let lock: Lock | null = new Lock();
    const counter = new Value('i', 0);
    const name = nameOf(lock);
    const p = run(t.argUser, lock, counter, ready, go);
    lock = null;
    expect(await ready.wait(60_000)).toBe(true);
    await collect();
    expect(exists(name)).toBe(true);
    go.set();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(counter.value).toBe(1);
  });
});
