// Handle passing: shared objects travel as (kind, name) records inside
// structured-clone data and are reopened on arrival.
import { afterEach, describe, expect, it } from 'vitest';
import { SharedMemory, deserialize, serialize } from '../dist/index.js';
import { nodeCode, startNode } from './helpers/child';

const made: SharedMemory[] = [];
afterEach(() => {
  for (const shm of made.splice(0)) {
    shm.close();
    shm.unlink();
  }
});

describe('serialize / deserialize', () => {
  it('round-trips structured-clone data', () => {
    const value = {
      n: 1.5,
      big: 10n,
      s: 'é',
      arr: [1, [2]],
      map: new Map([['k', { v: 1 }]]),
      set: new Set([1, 2]),
      date: new Date(5),
      re: /x/g,
      buf: Buffer.from('abc'),
      f64: new Float64Array([1.5]),
      nil: null,
      undef: undefined,
    };
    expect(deserialize(serialize(value))).toEqual(value);
  });

  it('keeps cycles and shared references', () => {
    const shared = { x: 1 };
    const value: Record<string, unknown> = { a: shared, b: shared };
    value.self = value;
    const back = deserialize(serialize(value)) as typeof value;
    expect(back.a).toBe(back.b);
    expect(back.self).toBe(back);
  });

  it('names where a non-cloneable value was found', () => {
    expect(() => serialize({ cfg: { onDone: function onDone() {} } }, 'args[1]')).toThrow(
      new TypeError(
        'args[1].cfg.onDone is a function (onDone), which cannot be sent to another process (only structured-clone data and multiproc shared objects can)',
      ),
    );
    expect(() => serialize([1, Symbol('s')])).toThrow(/^value\[1\] is a symbol \(Symbol\(s\)\)/);
    expect(() => serialize(new Map([['k', () => 1]]))).toThrow(/^value\.get\("k"\) is a function/);
    expect(() => serialize({ 'a-b': new WeakMap() })).toThrow(/^value\["a-b"\] is a \[object WeakMap\]/);
  });

  it('sends a SharedMemory as a handle, reopened as the same segment (same object in-process)', () => {
    const shm = new SharedMemory({ create: true, size: 64 });
    made.push(shm);
    const bytes = serialize({ deep: [shm] });
    expect(bytes.length).toBeLessThan(200); // a name, not 64 bytes of contents
    const back = deserialize(bytes) as { deep: [SharedMemory] };
    expect(back.deep[0]).toBe(shm);
  });

  it('reopens a SharedMemory handle in another process', async () => {
    const shm = new SharedMemory({ create: true, size: 64 });
    made.push(shm);
    shm.buf.write('parent');
    const payload = serialize({ seg: shm, note: 'hi' }).toString('base64');
    const child = startNode(
      nodeCode(`
      const msg = mp.deserialize(Buffer.from(process.argv[1], 'base64'));
      console.log(msg.note, msg.seg instanceof mp.SharedMemory, msg.seg.buf.toString('utf8', 0, 6));
      msg.seg.buf.write('child!');
      msg.seg.close();`).concat(payload),
    );
    expect((await child.line(/^hi.*/))[0]).toBe('hi true parent');
    expect(await child.exited).toBe(0);
    expect(shm.buf.toString('utf8', 0, 6)).toBe('child!');
  });

  it('refuses a closed SharedMemory, and data it did not write', () => {
    const shm = new SharedMemory({ create: true, size: 8 });
    made.push(shm);
    const other = new SharedMemory({ name: shm.name });
    other.close();
    expect(() => serialize(other)).toThrow(/is closed/);
    expect(() => deserialize(Buffer.from([7, 1, 2]))).toThrow(TypeError);
  });
});
