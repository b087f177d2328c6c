// Synchronization objects: their lifetime, stress across processes, and the locks of shared values.
import { describe, expect, it } from 'vitest';
import { Lock, type Process, RLock, RawArray, Value } from '../dist/index.js';
import { fixture, nodeCode, repo, startNode } from './helpers/child';
import { processRunner } from './helpers/processes';

const targets = fixture('sync-targets.mjs');

const t: Record<string, any> = await import(targets);

const { run, started: procs } = processRunner(targets);

describe('lifetime', () => {
  it("unnamed primitives and Value buffers are unlinked when their creator's object is collected", async () => {
    const child = startNode([
      '--expose-gc',
      ...nodeCode(`
      const fs = require('node:fs');
      const ours = () => fs.readdirSync('/dev/shm').filter((n) => n.startsWith('mp-' + native.trackerInfo().pid.toString(36) + '-'));
      let objs = [new mp.Lock(), new mp.Value('i', 1), new mp.Event(), new mp.Condition(), new mp.Barrier(2), new mp.SharedArray('d', 3), new mp.Semaphore(2)];
      const kept = new mp.Lock();
      console.log('before', ours().length);
      objs = null;
      (async () => {
        for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); }
        console.log('after', ours().length, kept.locked());
      })();`),
    ]);
    // One segment each (a Value's RLock and a Barrier's lock live in their own segment), a Condition's RLock, the kept Lock.
    expect((await child.line(/^before \d+/))[0]).toBe('before 9');
    expect((await child.line(/^after .*/))[0]).toBe('after 1 false');
    expect(await child.exited).toBe(0);
  });
});

describe('stress', () => {
  it('4 processes x 10 000 lock hand-offs with holders SIGKILLed at random: survivors finish, nothing hangs', async () => {
    const lock = new Lock();
    const counter = RawArray('i', 1);
    const mine = RawArray('i', 16);
    const N = 10_000;
    let slot = 0;
    const live = new Set<Process>();
    const spawnWorker = () => {
      const p = run(t.handOff, lock, counter, mine, slot++, N);
      live.add(p);
      void p.join().then(() => live.delete(p));
    };
    for (let i = 0; i < 4; i++) spawnWorker();
    const owner = (lock as unknown as { _owner: { state: { i32: Int32Array }; index: number } })._owner;
    let kills = 0;
    while (kills < 4 && live.size > 0) {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      const holder = [...live].find((p) => p.pid === Atomics.load(owner.state.i32, owner.index));
      if (!holder) continue;
      holder.kill();
      kills++;
      spawnWorker(); // keep four contenders
    }
    const all = [...procs];
    for (const p of all) await p.join();
    const survivors = all.filter((p) => p.exitCode !== -9);
    expect(survivors.length).toBeGreaterThanOrEqual(4);
    for (const p of survivors) expect(p.exitCode).toBe(0);
    const total = [...mine.view].reduce((a, b) => a + b, 0);
    // A holder killed between its two increments leaves the counter one ahead.
    expect(counter.view[0] - total).toBeGreaterThanOrEqual(0);
    expect(counter.view[0] - total).toBeLessThanOrEqual(kills);
    expect(lock.locked()).toBe(false);
    void repo;
  });
});

describe('Value and SharedArray', () => {
  it('share typed data with a lock by default (an RLock, as in Python)', async () => {
    const v = new Value('i', 0);
    expect(v.getLock()).toBeInstanceOf(RLock);
    const ps = [0, 1, 2].map(() => run(t.addUnderLock, v, 2000));
    for (const p of ps) await p.join();
    expect(v.value).toBe(6000);
  });

  it('support Python typecodes and TS names, bigint and char types, zero-copy views', async () => {
    const arr = RawArray('int16', [1, -2, 3]);
    expect(arr.view).toBeInstanceOf(Int16Array);
    expect(arr.toArray()).toEqual([1, -2, 3]);
    expect(arr.get(-1)).toBe(3);
    const big = new Value('Q', 2n ** 63n);
    expect(big.value).toBe(2n ** 63n);
    const c = new Value('c', 'z', { lock: false });
    expect(c.value).toBe('z');
    expect(() => c.getLock()).toThrow(/no lock/);
    const f = new Value('d', 1.5, { lock: new Lock() });
    expect(f.getLock()).toBeInstanceOf(Lock);
    const filled = new (await import('../dist/index.js')).SharedArray('d', 4);
    const p = run(t.fillArray, filled, 2.5);
    await p.join();
    expect(filled.toArray()).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it('reject bad typecodes, lengths, indexes and values with typed errors', () => {
    expect(() => new Value('x' as never)).toThrow(/unknown typecode "x": use one of 'b', 'int8', 'B'/);
    expect(() => RawArray('i', -1)).toThrow(RangeError);
    expect(() => RawArray('i', 1.5)).toThrow(RangeError);
    const arr = RawArray('i', 2);
    expect(() => arr.get(2)).toThrow(RangeError);
    expect(() => arr.set(0, 'x' as never)).toThrow(TypeError);
    expect(() => new Value('q', 1.5 as never)).toThrow(TypeError);
    expect(() => new Value('i', 0, { lock: 'yes' } as never)).toThrow(TypeError);
    arr.set(1, 7);
    expect(arr.toArray()).toEqual([0, 7]); // still usable
  });
});
