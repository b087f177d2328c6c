import { afterEach, describe, expect, it } from 'vitest';
import { SharedMemory } from '../dist/index.js';
import { exists, waitUntil } from './helpers/shm';
import { runCode, startNode, nodeCode } from './helpers/child';

const made: SharedMemory[] = [];
function create(size: number, name?: string): SharedMemory {
  const shm = new SharedMemory(name === undefined ? { create: true, size } : { create: true, size, name });
  made.push(shm);
  return shm;
}
afterEach(() => {
  for (const shm of made.splice(0)) {
    shm.close();
    if (exists(shm.name)) shm.unlink();
  }
});

describe('SharedMemory', () => {
  it('creates a zero-filled segment with a generated name, mode 0600', async () => {
    const shm = create(10_000);
    expect(shm.name).toMatch(/^mp-[0-9a-z]+-[0-9a-f]{16}$/);
    expect(shm.size).toBe(10_000);
    expect(shm.buf.length).toBe(10_000);
    expect(shm.buf.every((b) => b === 0)).toBe(true);
    const { statSync } = await import('node:fs');
    expect(statSync(`/dev/shm/${shm.name}`).mode & 0o777).toBe(0o600);
  });

  it('is shared zero-copy between two mappings in one process', () => {
    const a = create(64);
    const b = new SharedMemory({ name: a.name });
    made.push(b);
    a.buf.write('hello', 3);
    expect(b.buf.toString('utf8', 3, 8)).toBe('hello');
    expect(b.size).toBe(64);
    expect(a.buf).toBe(a.buf); // one Buffer per mapping
  });

  it('is shared with an unrelated node process that opens it by name', async () => {
    const shm = create(4096);
    shm.buf.writeUInt32LE(0xdeadbeef, 100);
    const r = await runCode(`
      const shm = new mp.SharedMemory({ name: ${JSON.stringify(shm.name)} });
      console.log(shm.size, shm.buf.readUInt32LE(100).toString(16));
      shm.buf.write('from child', 200);
      shm.close();`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('4096 deadbeef');
    expect(shm.buf.toString('utf8', 200, 210)).toBe('from child');
  });

  it('lets a child write while the parent watches, both mapped at once', async () => {
    const shm = create(8);
    const child = startNode(
      nodeCode(`
      const shm = new mp.SharedMemory({ name: process.argv[1] });
      console.log('ready');
      process.stdin.once('data', () => { shm.buf[0] = 7; console.log('written'); shm.close(); process.exit(0); });`).concat(shm.name),
    );
    await child.line(/ready/);
    child.proc.stdin!.write('go\n');
    await child.line(/written/);
    expect(shm.buf[0]).toBe(7);
    expect(await child.exited).toBe(0);
  });

  it('close() empties every view instead of leaving it dangling', () => {
    const shm = create(16);
    const view = shm.buf;
    const u32 = new Uint32Array(view.buffer, view.byteOffset, 4);
    shm.close();
    expect(view.length).toBe(0);
    expect(u32.length).toBe(0);
    expect(u32[0]).toBeUndefined();
    expect(shm.closed).toBe(true);
    expect(() => shm.buf).toThrow(/is closed/);
    shm.close(); // idempotent
    expect(exists(shm.name)).toBe(true); // close is not unlink
  });

  it('unlink() removes the name; mappings stay valid; opening then fails clearly', () => {
    const shm = create(16);
    shm.buf[1] = 9;
    shm.unlink();
    expect(exists(shm.name)).toBe(false);
    expect(shm.buf[1]).toBe(9);
    expect(() => new SharedMemory({ name: shm.name })).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/does not exist/) }),
    );
    expect(() => shm.unlink()).toThrow(expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/already unlinked/) }));
  });

  it('refuses to create a name that exists, with EEXIST', () => {
    const shm = create(16);
    expect(() => new SharedMemory({ name: shm.name, create: true, size: 16 })).toThrow(
      expect.objectContaining({ code: 'EEXIST', message: expect.stringMatching(/already exists/) }),
    );
  });

  it('takes explicit names, and track: false lets one outlive the program', async () => {
    const name = `mp-test-${process.pid}-keep`;
    const r = await runCode(`
      const shm = new mp.SharedMemory({ name: ${JSON.stringify(name)}, create: true, size: 32, track: false });
      shm.buf[0] = 42;`);
    expect(r.code).toBe(0);
    // The child is gone and so is its tracker's pipe; the object stays.
    const kept = new SharedMemory({ name });
    made.push(kept);
    expect(kept.buf[0]).toBe(42);
  });

  it('a process that only opened a segment does not remove it when it exits', async () => {
    const shm = create(16);
    const r = await runCode(`new mp.SharedMemory({ name: ${JSON.stringify(shm.name)} }).buf[0] = 1;`);
    expect(r.code).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(exists(shm.name)).toBe(true);
  });

  it('rejects bad inputs with typed errors', () => {
    expect(() => new SharedMemory({ create: true, size: 0 })).toThrow(RangeError);
    expect(() => new SharedMemory({ create: true, size: -5 })).toThrow(RangeError);
    expect(() => new SharedMemory({ create: true, size: 1.5 })).toThrow(RangeError);
    expect(() => new SharedMemory({ create: true, size: '10' as unknown as number })).toThrow(TypeError);
    expect(() => new SharedMemory({ create: true })).toThrow(TypeError);
    expect(() => new SharedMemory({})).toThrow(/name is required/);
    expect(() => new SharedMemory({ name: 'a/b' })).toThrow(TypeError);
    expect(() => new SharedMemory({ name: '/abs', create: true, size: 1 })).toThrow(/must not contain "\/"/);
    expect(() => new SharedMemory({ name: '' })).toThrow(TypeError);
    expect(() => new SharedMemory({ name: 'x'.repeat(300) })).toThrow(RangeError);
    expect(() => new SharedMemory({ name: 'x', create: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => new SharedMemory({ name: 'x', sise: 3 } as never)).toThrow(/unknown SharedMemory option "sise"/);
    expect(() => new SharedMemory(undefined as never)).toThrow(TypeError);
    expect(() => new SharedMemory({ name: 'mp-never-created-here' })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('removes what a killed creator left, through its tracker', async () => {
    const child = startNode(
      nodeCode(`
      const shm = new mp.SharedMemory({ create: true, size: 1 << 20 });
      console.log('name', shm.name);
      setInterval(() => {}, 1000);`),
    );
    const [, name] = await child.line(/^name (\S+)/);
    expect(exists(name)).toBe(true);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe(-9);
    await waitUntil(() => !exists(name), `${name} is removed`);
  });
});
