// util.inspect (console.log) of multiproc objects shows what a user wants to
// see -- the value, the state, the name, the size -- not internals or {}.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  JoinableQueue,
  Lock,
  Pipe,
  Queue,
  RLock,
  Semaphore,
  SharedArray,
  SharedMemory,
  SimpleQueue,
  Value,
} from '../dist/index.js';

describe('util.inspect', () => {
  it('shows state, not internals', async () => {
    const v = new Value('i', 42);
    expect(inspect(v)).toBe('Value<int32> { 42 }');
    expect(inspect(new Value('q', 7n))).toBe('Value<int64> { 7n }');
    const lock = new Lock();
    expect(inspect(lock)).toBe('Lock { unlocked }');
    lock.acquireSync();
    expect(inspect(lock)).toBe('Lock { locked by this thread }');
    lock.release();
    const r = new RLock();
    r.acquireSync();
    r.acquireSync();
    expect(inspect(r)).toBe('RLock { locked by this thread (depth 2) }');
    r.release();
    r.release();
    const e = new Event();
    expect(inspect(e)).toBe('Event { not set }');
    e.set();
    expect(inspect(e)).toBe('Event { set }');
    expect(inspect(new Semaphore(3))).toBe('Semaphore { value 3 }');
    expect(inspect(new BoundedSemaphore(2))).toBe('BoundedSemaphore { value 2, max 2 }');
    const q = new Queue(10);
    q.putSync(1);
    expect(inspect(q)).toBe('Queue { 1 item of at most 10 }');
    q.shutdown();
    expect(inspect(q)).toBe('Queue { 1 item of at most 10, shut down }');
    expect(inspect(new JoinableQueue())).toBe('JoinableQueue { 0 items }');
    expect(inspect(new SimpleQueue())).toBe('SimpleQueue { empty }');
    expect(inspect(new Barrier(3))).toBe('Barrier { 0 of 3 waiting }');
    expect(inspect(new Condition(new Lock()))).toBe('Condition { 0 waiting, lock: Lock { unlocked } }');
    expect(inspect(new SharedArray('d', [1.5, 2]))).toBe('SharedArray<float64>(2) [ 1.5, 2 ]');
    const [a] = Pipe();
    expect(inspect(a)).toBe('Connection { duplex }');
    a.close();
    expect(inspect(a)).toBe('Connection { closed }');
    const shm = new SharedMemory({ create: true, size: 64 });
    expect(inspect(shm)).toBe(`SharedMemory ${JSON.stringify(shm.name)} { 64 bytes }`);
    shm.close();
    shm.unlink();
    const named = new Lock({ name: `inspect-${process.pid}` });
    expect(inspect(named)).toBe(`Lock "inspect-${process.pid}" { unlocked }`);
    named.unlink();
  });
});
