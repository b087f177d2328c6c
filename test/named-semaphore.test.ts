// POSIX named semaphores through the addon, across processes; and the shape
// of native errors (code, errno, syscall).
import { describe, expect, it } from 'vitest';
import { native } from '../dist/binding/native.js';
import { semExists, waitUntil } from './helpers/shm';
import { nodeCode, startNode } from './helpers/child';

let counter = 0;
const name = () => `/mp-test-sem-${process.pid}-${counter++}`;

describe('named semaphores', () => {
  it('post / wait / tryWait / timed wait / value', () => {
    const sem = native.NamedSemaphore.create(name(), 2, true);
    try {
      expect(sem.value).toBe(2);
      expect(sem.tryWait()).toBe(true);
      expect(sem.wait()).toBe(true);
      expect(sem.tryWait()).toBe(false);
      expect(sem.wait(20)).toBe(false);
      sem.post();
      expect(sem.value).toBe(1);
    } finally {
      sem.close();
      native.NamedSemaphore.unlink(sem.name);
    }
    expect(semExists(sem.name.slice(1))).toBe(false);
  });

  it('is shared with another process: it posts, we wake', async () => {
    const sem = native.NamedSemaphore.create(name(), 0, true);
    try {
      const child = startNode(
        nodeCode(`
        const sem = native.NamedSemaphore.open(process.argv[1]);
        process.stdin.once('data', () => { sem.post(); sem.post(); sem.close(); process.exit(0); });
        console.log('ready');`).concat(sem.name),
      );
      await child.line(/ready/);
      child.proc.stdin!.write('go\n');
      expect(sem.wait(60_000)).toBe(true);
      expect(sem.wait(60_000)).toBe(true);
      expect(await child.exited).toBe(0);
    } finally {
      sem.close();
      native.NamedSemaphore.unlink(sem.name);
    }
  });

  it('errors carry the errno name as code, errno and syscall', () => {
    const missing = name();
    let err: NodeJS.ErrnoException | undefined;
    try {
      native.NamedSemaphore.open(missing);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'sem_open' });
    expect(err!.message).toContain(missing);
    const sem = native.NamedSemaphore.create(name(), 0, true);
    try {
      expect(() => native.NamedSemaphore.create(sem.name, 0, true)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(() => native.NamedSemaphore.create(name(), -1, true)).toThrow(RangeError);
    } finally {
      sem.close();
      native.NamedSemaphore.unlink(sem.name);
    }
    expect(() => sem.post()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
  });

  it('is removed by the tracker when its creator is SIGKILLed', async () => {
    const child = startNode(
      nodeCode(`
      const sem = native.NamedSemaphore.create('/mp-test-sem-killed-' + process.pid, 0, true);
      console.log('name', sem.name.slice(1));
      setInterval(() => {}, 1000);`),
    );
    const [, semName] = await child.line(/^name (\S+)/);
    expect(semExists(semName)).toBe(true);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitUntil(() => !semExists(semName), 'the semaphore is removed');
  });
});
