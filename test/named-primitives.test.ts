// Named synchronization primitives: open-or-create by name, from any process of this user.
import { describe, expect, it } from 'vitest';
import { Event, Lock, Semaphore, unlinkNamed } from '../dist/index.js';
import { nodeCode, startNode } from './helpers/child';

describe('named primitives', () => {
  it('are shared with an unrelated node process by name', async () => {
    const name = `test-named-${process.pid}`;
    const lock = new Lock({ name: `${name}-lock` });
    const event = new Event({ name: `${name}-event` });
    const sem = new Semaphore(0, { name: `${name}-sem` });
    try {
      lock.acquireSync();
      const other = startNode(
        nodeCode(`
        const lock = new mp.Lock({ name: '${name}-lock' });
        const event = new mp.Event({ name: '${name}-event' });
        const sem = new mp.Semaphore(5, { name: '${name}-sem' }); // exists: the value is not applied
        console.log('locked', lock.locked(), 'sem', sem.getValue());
        sem.release();
        event.set();
        console.log('acquired', lock.acquireSync({ timeout: 60000 }));
        lock.release();`),
      );
      expect((await other.line(/^locked.*/))[0]).toBe('locked true sem 0');
      expect(await event.wait(60_000)).toBe(true);
      lock.release();
      await other.line(/^acquired true/);
      expect(await other.exited).toBe(0);
      expect(sem.getValue()).toBe(1);
      expect(() => new Semaphore(1, { name: `${name}-lock` })).toThrow(/is a Lock, not a Semaphore/);
    } finally {
      lock.unlink();
      event.unlink();
      unlinkNamed(`${name}-sem`);
    }
    expect(() => unlinkNamed(`${name}-sem`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => new Lock({ name: 'a/b' })).toThrow(TypeError);
  });
});

// Regressions for findings of a review (each failed before its fix).
