// Synchronization: regressions found by reviews (each named after what it guards).
import { describe, expect, it } from 'vitest';
import { Barrier, BrokenBarrierError, Condition, RLock, RawArray } from '../dist/index.js';
import { fixture, nodeCode, startNode } from './helpers/child';
import { waitUntil } from './helpers/shm';

const targets = fixture('sync-targets.mjs');

const t: Record<string, any> = await import(targets);

describe('review regressions', () => {
  it('a holder whose /proc entry cannot be read (no free fds) is presumed alive, not robbed', async () => {
    const child = startNode(
      nodeCode(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const name = 'test-emfile-' + process.pid;
      const lock = new mp.Lock({ name });
      const w = new Worker(\`
        const mp = require(\${JSON.stringify(require.resolve('./dist/index.js'))});
        const { parentPort } = require('node:worker_threads');
        const lock = new mp.Lock({ name: \${JSON.stringify(name)} });
        lock.acquireSync();
        parentPort.postMessage('held');
        setInterval(() => {}, 1000);\`, { eval: true });
      w.once('message', () => {
        const fds = [];
        try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
        const got = lock.acquireSync({ timeout: 200 });
        for (const fd of fds) fs.closeSync(fd);
        console.log('acquired', got, lock.ownerDied);
        lock.unlink();
        process.exit(0);
      });`),
    );
    expect((await child.line(/^acquired .*/))[0]).toBe('acquired false false');
  });

  it('RLock: two async tasks of one thread exclude each other; withLock re-enters', async () => {
    const r = new RLock();
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        r.withLock(async () => {
          most = Math.max(most, ++inside);
          await new Promise((z) => setTimeout(z, 5));
          await r.withLock(() => {}); // re-entrant inside its own withLock
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(r.locked()).toBe(false);
  });

  it('Condition.notify(1) wakes exactly one of three waiters', async () => {
    const c = new Condition();
    const results: boolean[] = [];
    const ready = RawArray('i', 1);
    const waiters = [1, 2, 3].map(async () => {
      await c.acquire();
      ready.view[0] += 1;
      results.push(await c.wait(300));
      c.release();
    });
    await waitUntil(() => ready.view[0] === 3, 'three waiters');
    await c.acquire();
    c.notify(1);
    c.release();
    await Promise.all(waiters);
    expect(results.sort()).toEqual([false, false, true]);
  });

  it('a Barrier whose action throws is broken, and counts no one as waiting', () => {
    const b = new Barrier(1, { action: t.failingAction, actionModule: targets });
    expect(() => b.waitSync()).toThrow('action failed');
    expect(b.broken).toBe(true);
    expect(b.nWaiting).toBe(0);
    expect(() => b.waitSync(10)).toThrow(BrokenBarrierError);
  });

  it('a Barrier action every party could not find is refused by the constructor (was a timeout in the other processes)', () => {
    expect(() => new Barrier(2, { action: () => 1 })).toThrow(TypeError);
    expect(() => new Barrier(2, { action: function notExported() {}, actionModule: targets })).toThrow(/notExported/);
    expect(() => new Barrier(2, { action: t.failingAction, actionModule: targets })).not.toThrow();
  });

  it('an empty SharedArray travels with its length', async () => {
    const { SharedArray, serialize, deserialize } = await import('../dist/index.js');
    const empty = new SharedArray('b', 0);
    expect((deserialize(serialize(empty)) as typeof empty).length).toBe(0);
  });
});
