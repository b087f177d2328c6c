// Bad inputs get a clear, typed error naming what was wrong, and leave every
// object usable (issue 9, item 20).
import { describe, expect, it } from 'vitest';
import { Barrier, BoundedSemaphore, Pipe, Queue, RawArray, Semaphore, SharedArray, getSpinPolicy, setSpinPolicy } from '../dist/index.js';
import { nodeCode, startNode } from './helpers/child';
import { collect } from './helpers/names';

describe('bad inputs', () => {
  it('a Proxy or a SharedArrayBuffer put into a queue is a TypeError saying where it was', async () => {
    const q = new Queue();
    expect(() => q.putSync(new Proxy({ a: 1 }, {}))).toThrow(/^item is a Proxy/);
    await expect(q.put({ deep: [new Proxy({}, {})] })).rejects.toThrow(/item\.deep\[0\] is a Proxy/);
    expect(() => q.putSync(new SharedArrayBuffer(8))).toThrow(/^item is a SharedArrayBuffer.*SharedArray or SharedMemory/);
    expect(() => q.putSync({ buf: new Int32Array(new SharedArrayBuffer(8)) })).toThrow(/^item\.buf is a view of a SharedArrayBuffer/);
    q.putSync('still fine');
    expect(q.getSync()).toBe('still fine');
  });

  it('counts and sizes have upper bounds instead of wrapping', () => {
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(() => new Barrier(65537)).toThrow(/from 1 to 65536/);
    expect(() => new Semaphore(2 ** 31)).toThrow(RangeError);
    expect(() => new BoundedSemaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1).release(2 ** 31)).toThrow(RangeError);
    expect(() => new Queue(2 ** 31)).toThrow(RangeError);
    expect(() => new Queue(0, { capacityBytes: 2 ** 31 + 8 })).toThrow(RangeError);
    expect(() => new SharedArray('i', 2 ** 33)).toThrow(/at most/);
    expect(() => RawArray('i', 1.5)).toThrow(RangeError);
    expect(() => RawArray('i', -1)).toThrow(RangeError);
  });

  it('capacityBytes works across its documented range, up to 2^31', async () => {
    let q: Queue | null = new Queue(0, { capacityBytes: 2 ** 31 });
    const big = Buffer.alloc(8 << 20, 7); // goes into the ring, not a side segment
    q.putSync(big);
    expect((q.getSync() as Buffer).equals(big)).toBe(true);
    q = null;
    await collect(); // 2 GiB of /dev/shm back now rather than at the end of the file
  });

  it('the spin policy refuses non-finite and absurd budgets; MULTIPROC_SPIN_NS must be a number', async () => {
    const before = getSpinPolicy();
    expect(() => setSpinPolicy({ maxSpinNs: Infinity })).toThrow(RangeError);
    expect(() => setSpinPolicy({ maxSpinNs: NaN })).toThrow(TypeError);
    expect(() => setSpinPolicy({ maxSpinNs: 1e12 })).toThrow(RangeError);
    expect(() => setSpinPolicy({ maxSpinNs: -1 })).toThrow(RangeError);
    expect(() => setSpinPolicy({ spin: 1 } as never)).toThrow(/unknown spin policy option/);
    expect(getSpinPolicy().maxSpinNs).toBe(before.maxSpinNs);
    for (const bad of ['abc', '-5', '1e6', '99999999999']) {
      const child = startNode(
        nodeCode(`
        try { new mp.Lock(); console.log('created'); } catch (e) { console.log(e.code, e.message); }`),
        { MULTIPROC_SPIN_NS: bad },
      );
      expect(await child.exited).toBe(0);
      expect(child.stdout()).toMatch(/^ERR_MP_BAD_ENV MULTIPROC_SPIN_NS must be a whole number/);
    }
    const ok = startNode(nodeCode(`new mp.Lock(); console.log(mp.getSpinPolicy().maxSpinNs);`), { MULTIPROC_SPIN_NS: '1234' });
    expect(await ok.exited).toBe(0);
    expect(ok.stdout().trim()).toBe('1234');
  });

  it('sendBytes takes any ArrayBufferView', async () => {
    const [a, b] = Pipe();
    const f64 = new Float64Array([1.5, -2]);
    await a.sendBytes(f64);
    expect(new Float64Array(new Uint8Array(await b.recvBytes()).buffer)).toEqual(f64);
    const dv = new DataView(new ArrayBuffer(4));
    dv.setUint32(0, 0xdeadbeef);
    await a.sendBytes(dv);
    expect((await b.recvBytes()).readUInt32BE(0)).toBe(0xdeadbeef);
    await expect(a.sendBytes('text' as never)).rejects.toThrow(/Buffer, TypedArray or DataView/);
    a.close();
    b.close();
  });

  it("~65k objects end in a clear error before the kernel's mapping limit, not an abort", async () => {
    const child = startNode([
      '--expose-gc',
      ...nodeCode(`
      const keep = [];
      let error;
      try { for (;;) keep.push(new mp.Lock()); } catch (e) { error = e; }
      const { count, limit } = native.mappingStats();
      console.log(JSON.stringify({ made: keep.length, code: error.code, message: error.message, count, limit }));
      // The process goes on, and objects can be made again once some are gone.
      keep.length = 0;
      (async () => {
        for (let i = 0; i < 200; i++) {
          gc();
          await new Promise((r) => setTimeout(r, 10));
          try { console.log(JSON.stringify({ after: typeof new mp.Queue() })); return; } catch {}
        }
        console.log(JSON.stringify({ after: 'still at the limit' }));
      })();`),
    ]);
    expect(await child.exited, child.stderr()).toBe(0);
    const [r, after] = child
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(r.code).toBe('EMFILE');
    expect(r.message).toMatch(/vm\.max_map_count/);
    expect(r.count).toBe(r.limit);
    expect(after.after).toBe('object');
  });
});
