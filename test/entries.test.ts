// The tables of entries (ts/shm/entries.ts) decide when an object is
// removed and when a pipe's reader gets EOF: "no live entry" must hold at
// one instant, not be pieced together from a scan that others change
// underneath. A worker thread keeps at least one live entry at every
// instant -- a placeholder at the front or its own entry at the back,
// handing over between them as a sender of a handle does -- while this
// thread asks whether the table is empty, over and over.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Entries, placeholder } from '../dist/shm/entries.js';
import { pack, threadIdentity } from '../dist/shm/thread.js';
import { repo } from './helpers/child';

const ENTRIES = 120;
const GIVE_UPS = 0;
const FIRST = 2;
const STOP = 1;

const table = (i32: Int32Array): Entries => new Entries(i32, FIRST, ENTRIES, 2, GIVE_UPS);

describe('Entries', () => {
  it('a table with a live entry at every instant is never judged empty while its entries move', async () => {
    const i32 = new Int32Array(new SharedArrayBuffer((FIRST + ENTRIES * 2) * 4));
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `
      const { workerData } = require('node:worker_threads');
      const { Entries, placeholder } = require(${JSON.stringify(path.join(repo, 'dist/shm/entries.js'))});
      const { i32, ready } = workerData;
      const t = new Entries(i32, ${FIRST}, ${ENTRIES}, 2, ${GIVE_UPS});
      let own = t.claim(undefined, ${ENTRIES - 1});
      Atomics.store(ready, 0, 1);
      Atomics.notify(ready, 0);
      while (Atomics.load(i32, ${STOP}) === 0) {
        const id = placeholder();
        const front = t.claim(id);          // a handle about to leave...
        t.giveUp(own);                      // ...and this thread lets go of its own
        own = t.claim(undefined, ${ENTRIES - 1});
        t.giveUp(front, id);                // the handle was received elsewhere
      }
    `,
      { eval: true, workerData: { i32, ready } },
    );
    try {
      Atomics.wait(ready, 0, 0, 60_000);
      expect(Atomics.load(ready, 0)).toBe(1);
      const t = table(i32);
      let judgedEmpty = 0;
      const moves = Atomics.load(i32, GIVE_UPS);
      for (let n = 0; n < 100_000 || Atomics.load(i32, GIVE_UPS) - moves < 1000; n++) {
        if (t.empty()) judgedEmpty++;
      }
      expect(judgedEmpty).toBe(0);
    } finally {
      Atomics.store(i32, STOP, 1);
      await worker.terminate();
    }
  });

  it('empty() is true once the live entries are given up, and clears the dead ones it passes', () => {
    const i32 = new Int32Array(new SharedArrayBuffer((FIRST + ENTRIES * 2) * 4));
    const t = table(i32);
    const mine = t.claim();
    const ticket = placeholder();
    const inFlight = t.claim(ticket);
    const dead = t.claim(pack(4_000_000, 0)); // no such thread
    expect(t.empty()).toBe(false);
    t.giveUp(inFlight, ticket);
    expect(t.empty()).toBe(false);
    t.giveUp(mine);
    expect(t.empty()).toBe(true);
    expect(t.identity(dead)).toBe(0n);
  });

  it('a dead entry is reclaimed once; while it is, no one claims it; a reclaimer that died is finished by the next purge', () => {
    const i32 = new Int32Array(new SharedArrayBuffer((FIRST + ENTRIES * 2) * 4));
    const t = table(i32);
    const dead = pack(4_000_000, 0);
    const i = t.claim(dead);
    let taken = 0;
    expect(
      t.reclaim(i, dead, () => {
        taken++;
        expect(t.claim(undefined, i)).not.toBe(i); // tombstoned: not free, not live
        expect(t.live(i)).toBe(false);
        expect(
          t.purge(() => {
            throw new Error('a tombstone of a live reclaimer is left alone');
          }),
        ).toBe(1);
      }),
    ).toBe(true);
    expect(t.reclaim(i, dead, () => taken++)).toBe(false);
    expect(taken).toBe(1);
    expect(t.identity(i)).toBe(0n);
    // A tombstone whose reclaimer (no such thread) died half-way.
    const stale = dead | 0x80000000n;
    const j = t.claim(stale, 60);
    const seen: bigint[] = [];
    t.purge((k, id) => {
      seen.push(id);
      t.reclaim(k, id, () => {});
    });
    expect(seen).toEqual([stale]);
    expect(t.identity(j)).toBe(0n);
    expect(threadIdentity() & 0x80000000n).toBe(0n);
  });
});
