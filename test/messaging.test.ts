// Queue, JoinableQueue, SimpleQueue and Pipe across real processes.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AbortError,
  Empty,
  Full,
  JoinableQueue,
  Lock,
  Pipe,
  Queue,
  RawArray,
  SharedMemory,
  SimpleQueue,
  Value,
  deserialize,
  serialize,
  ShutDown,
} from '../dist/index.js';
import { fixture } from './helpers/child';
import { processRunner } from './helpers/processes';
import { ourObjects, waitUntil } from './helpers/shm';

const targets = fixture('queue-targets.mjs');

const t: Record<string, any> = await import(targets);

const { run } = processRunner(targets);

describe('Queue', () => {
  it('every method, Full and Empty, qsize/empty/full', async () => {
    const q = new Queue<unknown>(2);
    expect(q.empty()).toBe(true);
    q.putSync(1);
    await q.put({ two: 2 });
    expect([q.qsize(), q.full(), q.empty()]).toEqual([2, true, false]);
    expect(() => q.putNowait(3)).toThrow(Full);
    expect(() => q.putSync(3, { timeout: 10 })).toThrow(Full);
    await expect(q.put(3, { timeout: 10 })).rejects.toThrow(Full);
    expect(q.getNowait()).toBe(1);
    expect(q.getSync()).toEqual({ two: 2 });
    expect(() => q.getNowait()).toThrow(Empty);
    expect(() => q.getSync({ timeout: 10 })).toThrow(Empty);
    await expect(q.get({ timeout: 10 })).rejects.toThrow(Empty);
    const ac = new AbortController();
    const pending = q.get({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
  });

  it('a put that fails leaves no side segment behind (items larger than the ring)', async () => {
    const q = new Queue(1, { capacityBytes: 4096 });
    q.putSync('fills the only slot');
    // Names carry this process tree's tracker (mp-<tracker>-<random>): other
    // test files may be creating objects meanwhile.
    const probe = new SharedMemory({ create: true, size: 1 });
    const mine = (): string[] => ourObjects().filter((n) => n.startsWith(probe.name.slice(0, probe.name.lastIndexOf('-'))));
    probe.unlink();
    probe.close();
    const before = mine().length;
    const big = Buffer.alloc(100_000);
    expect(() => q.putNowait(big)).toThrow(Full);
    expect(() => q.putSync(big, { timeout: 10 })).toThrow(Full);
    await expect(q.put(big, { timeout: 10 })).rejects.toThrow(Full);
    const ac = new AbortController();
    const pending = q.put(big, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    q.close();
    expect(() => q.putSync(big)).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    expect(mine().length).toBe(before);
  });

  it('shutdown(): puts fail, gets drain, iteration ends, for every process', async () => {
    const q = new Queue();
    q.putSync('a');
    q.putSync('b');
    q.shutdown();
    expect(q.isShutDown).toBe(true);
    expect(() => q.putSync('c')).toThrow(ShutDown);
    await expect(q.put('c')).rejects.toThrow(ShutDown);
    const seen = [];
    for await (const x of q) seen.push(x);
    expect(seen).toEqual(['a', 'b']);
    await expect(q.get()).rejects.toThrow(ShutDown);
    expect(() => q.getNowait()).toThrow(expect.objectContaining({ code: 'ERR_MP_SHUTDOWN' }));
    // immediate: what is left is dropped at once (Python 3.13).
    const r = new Queue();
    r.putSync(1);
    r.putSync(2);
    r.shutdown({ immediate: true });
    expect(r.qsize()).toBe(0);
    expect(() => r.getSync()).toThrow(ShutDown);
    expect(() => r.shutdown({ immediate: 'yes' } as never)).toThrow(TypeError);
  });

  it("close() is Python's: this handle puts and gets no more, other processes' handles go on (each producer may close its own)", async () => {
    const q = new Queue();
    const producers = [0, 1].map((p) => run(t.produceThenClose, q, p, 50));
    for (const p of producers) await p.join();
    expect(producers.map((p) => p.exitCode)).toEqual([0, 0]);
    const got = [];
    while (!q.empty()) got.push(q.getSync());
    expect(got).toHaveLength(100); // nothing lost: Python code where each producer closes its queue
    q.close();
    expect(q.closed).toBe(true);
    expect(() => q.putSync(1)).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    expect(() => q.getSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    const items = [];
    for await (const x of q) items.push(x); // a closed handle's iteration ends at once
    expect(items).toEqual([]);
  });

  it('rejects bad inputs with typed errors, leaving the queue untouched', () => {
    expect(() => new Queue(-1)).toThrow(RangeError);
    expect(() => new Queue(1.5)).toThrow(TypeError);
    expect(() => new Queue(0, { capacityBytes: 10 })).toThrow(RangeError);
    expect(() => new Queue(0, { size: 1 } as never)).toThrow(/unknown Queue option "size"/);
    expect(() => new SimpleQueue(10 as never)).toThrow(/^SimpleQueue options must be an object/);
    const q = new Queue();
    expect(() => q.putSync({ cb: () => 1 })).toThrow(/^item\.cb is a function/);
    expect(q.qsize()).toBe(0);
    expect(() => q.getSync({ timeout: -1 })).toThrow(RangeError);
  });

  it('a get pending in this process leaves the event loop free', async () => {
    const q = new Queue();
    const pending = q.get();
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (++ticks === 5) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    q.putSync('late');
    expect(await pending).toBe('late');
  });

  it('a blocked producer resumes when a bounded queue makes room', async () => {
    const q = new Queue<string>(1);
    const p = run(t.blockOnFull, q);
    await waitUntil(() => q.full(), 'the child filled the queue');
    expect(q.getSync({ timeout: 60_000 })).toBe('a');
    expect(q.getSync({ timeout: 60_000 })).toBe('b');
    expect(q.getSync({ timeout: 60_000 })).toBe('c');
    await p.join();
    expect(p.exitCode).toBe(0);
  });

  it('3 producers x 3 consumers: counts and sums conserved, order kept per producer', async () => {
    const q = new Queue(64, { capacityBytes: 4096 });
    const sums = RawArray('d', 9);
    const N = 3000;
    const producers = [0, 1, 2].map((p) => run(p === 1 ? t.produceAsync : t.produce, q, p, N));
    const consumers = [0, 1, 2].map((slot) => run(t.consume, q, null, sums, slot));
    for (const p of producers) await p.join();
    q.shutdown();
    for (const c of consumers) await c.join();
    const v = [...sums.view];
    expect(v[0] + v[3] + v[6]).toBe(3 * N);
    expect(v[1] + v[4] + v[7]).toBe((3 * (N * (N - 1))) / 2);
    expect(v[2] + v[5] + v[8]).toBe(0);
  });

  for (const mib of [8, 100]) {
    it(`carries a ${mib} MiB item to another process and back`, async () => {
      const inbox = new Queue(1, { capacityBytes: 64 * 1024 });
      const outbox = new Queue();
      const big = Buffer.alloc(mib << 20, 1);
      big[big.length - 1] = 9;
      const p = run(t.echoBig, inbox, outbox);
      await inbox.put(big, { timeout: 120_000 });
      expect(await outbox.get({ timeout: 120_000 })).toEqual({ length: mib << 20, first: 1, last: 9 });
      await p.join();
    });
  }

  it('every kind of item comes back exactly as it went, through the ring and through side segments', async () => {
    // Each encoding (ts/messaging/encoding.ts) and its edge cases: what JSON
    // alone would get wrong must take another path.
    const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const nullProto = Object.assign(Object.create(null), { a: 1 });
    const deep = JSON.parse('['.repeat(200) + ']'.repeat(200));
    const small = [
      0,
      -0,
      NaN,
      Infinity,
      1.5,
      'text',
      '',
      'caf\u00e9 \u{1f600}',
      'lone \ud800 surrogate',
      true,
      false,
      null,
      undefined,
      { id: 1, name: 'small object', ok: true, list: [1, 'two', null, { three: 3 }] },
      [],
      {},
      nullProto,
      { n: -0 },
      { n: NaN },
      { u: undefined },
      { s: 'lone \udc00 in JSON' },
      sparse,
      cyclic,
      deep,
      Array.from({ length: 1000 }, (_, i) => i / 3),
      new Date(5),
      new Map([[1, { a: 2 }]]),
      new Set(['s']),
      10n ** 20n,
      /re/g,
      Buffer.from('a buffer'),
      new Uint8Array([1, 2, 3]),
      new Float64Array([1.5, -0]),
      Buffer.alloc(0),
    ];
    const big = [
      'x'.repeat(100_000),
      'caf\u00e9'.repeat(30_000),
      { text: 'y'.repeat(100_000) },
      Buffer.alloc(100_000, 7),
      new Uint8Array(100_000).fill(8),
      new Float64Array(20_000).fill(0.5),
      Array.from({ length: 5000 }, (_, i) => ({ i })),
    ];
    const inbox = new Queue(0, { capacityBytes: 64 * 1024 }); // the big ones do not fit a record
    const outbox = new Queue(0, { capacityBytes: 64 * 1024 });
    const p = run(t.echoAll, inbox, outbox);
    for (const item of [...small, ...big]) {
      inbox.putSync(item);
      const back = await outbox.get({ timeout: 60_000 });
      // Structured clone gives a null-prototype object an ordinary one.
      expect(back).toStrictEqual(item === nullProto ? { a: 1 } : item);
      if (Object.is(item, -0)) expect(Object.is(back, -0)).toBe(true);
    }
    inbox.shutdown();
    await p.join();
    expect(p.exitCode).toBe(0);
  });

  it('a worker_thread uses a queue it received, and exits cleanly while holding it', async () => {
    const { Worker } = await import('node:worker_threads');
    const q = new Queue();
    const dist = path.resolve('dist/index.js');
    const w = new Worker(
      `
      const mp = require(${JSON.stringify(dist)});
      const { workerData } = require('node:worker_threads');
      const q = mp.deserialize(workerData);
      for (let i = 0; i < 1000; i++) q.putSync({ i, from: 'worker' });
      q.putSync('done');`,
      { eval: true, workerData: serialize(q) },
    );
    const exited = new Promise((resolve) => w.once('exit', resolve));
    let n = 0;
    while ((await q.get({ timeout: 60_000 })) !== 'done') n++;
    expect(n).toBe(1000);
    expect(await exited).toBe(0);
    q.putSync('still usable here');
    expect(q.getSync()).toBe('still usable here');
  });

  it('items carry other shared objects (a Lock and a Value inside an item)', async () => {
    const q = new Queue();
    const lock = new Lock();
    const counter = new Value('i', 41);
    q.putSync({ lock, counter });
    const p = run(t.useLockFromQueue, q);
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(counter.value).toBe(42);
  });

  it('consumers SIGKILLed at random instants: nothing twice, nothing torn, losses only from the killed', async () => {
    const q = new Queue(32, { capacityBytes: 2048 });
    const N = 4000;
    const seen = RawArray('i', 2 * 100000);
    const sums = RawArray('d', 3 * 32);
    const producers = [0, 1].map((p) => run(t.produce, q, p, N));
    let slot = 0;
    const consumers = new Set([0, 1, 2].map(() => run(t.consume, q, seen, sums, slot++)));
    let kills = 0;
    while (kills < 6 && producers.some((p) => p.exitCode === null)) {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
      const victim = [...consumers][Math.floor(Math.random() * consumers.size)];
      victim.kill();
      consumers.delete(victim);
      kills++;
      consumers.add(run(t.consume, q, seen, sums, slot++));
    }
    for (const p of producers) await p.join();
    q.shutdown();
    for (const c of consumers) await c.join();
    let missing = 0;
    for (let p = 0; p < 2; p++) {
      for (let i = 0; i < N; i++) {
        const n = seen.view[p * 100000 + i];
        expect(n).toBeLessThanOrEqual(1);
        if (n === 0) missing++;
      }
    }
    expect(missing).toBeLessThanOrEqual(kills);
  });
});

describe('JoinableQueue and SimpleQueue', () => {
  it('join() resolves once every item is marked done by the workers', async () => {
    const jq = new JoinableQueue<number | null>();
    const results = RawArray('i', 20);
    const ws = [0, 1].map(() => run(t.worker, jq, results));
    for (let i = 0; i < 20; i++) await jq.put(i);
    await jq.join();
    expect([...results.view]).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    jq.putSync(null);
    jq.putSync(null);
    jq.joinSync();
    for (const w of ws) await w.join();
    expect(() => jq.taskDone()).toThrow(/more times than items were taken/);
  });

  it('SimpleQueue has the essentials', async () => {
    const q = new SimpleQueue<number>();
    q.putSync(1);
    await q.put(2);
    expect([q.getSync(), await q.get(), q.empty()]).toEqual([1, 2, true]);
    q.close();
  });
});

describe('Pipe', () => {
  it('duplex: both ends send and receive; close() gives the other end EOF', async () => {
    const [mine, theirs] = Pipe();
    const p = run(t.pipeEcho, theirs);
    await mine.send('hello');
    expect(await mine.recv()).toEqual({ echo: 'hello' });
    mine.sendSync([1, 2]);
    expect(mine.recvSync()).toEqual({ echo: [1, 2] });
    expect(mine.poll()).toBe(false);
    // Receives and sends take Queue's options.
    expect(() => mine.recvSync({ timeout: 10 })).toThrow(Empty);
    await expect(mine.recv({ timeout: 10 })).rejects.toThrow(Empty);
    await expect(mine.recvBytes({ timeout: 10 })).rejects.toThrow(Empty);
    const ac = new AbortController();
    const pending = mine.recv({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toThrow(AbortError);
    expect(() => mine.recvSync({ block: false })).toThrow(Empty);
    await expect(mine.recv({ timeout: 'soon' } as never)).rejects.toThrow(TypeError);
    mine.close();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(() => mine.sendSync('x')).toThrow(/closed/);
  });

  it('poll() is true once the other end has closed: recv() then throws EOF without waiting', async () => {
    const [a, b] = Pipe();
    b.sendSync('last');
    b.close();
    expect(a.poll()).toBe(true);
    expect(a.recvSync()).toBe('last');
    expect(a.poll(60_000)).toBe(true);
    expect(() => a.recvSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_EOF' }));
    a.close();
  });

  it('half-duplex: a receive-only and a send-only end; sendBytes/recvBytes', async () => {
    const [reader, writer] = Pipe(false);
    expect([reader.readable, reader.writable, writer.readable, writer.writable]).toEqual([true, false, false, true]);
    expect(() => reader.sendSync(1)).toThrow(/cannot send/);
    const p = run(t.pipeWriter, writer);
    // As in Python, the reader sees EOF once every process that has the
    // writing end has closed it: this one closes its own copy now.
    writer.close();
    expect(await reader.recv()).toBe('one');
    expect(reader.poll(60_000)).toBe(true);
    expect(reader.recvSync()).toEqual({ two: 2 });
    await expect(reader.recv()).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
    await p.join();
    const [r2, w2] = Pipe(false);
    await w2.sendBytes(Buffer.from('raw bytes'));
    expect((await r2.recvBytes()).toString()).toBe('raw bytes');
    // Anything else comes as serialize() writes it, whatever path it took.
    for (const item of [
      { plain: [1, 'two'] },
      3.5,
      'text',
      new Date(7),
      'z'.repeat(300_000),
      Buffer.from('sent'),
      new Uint8Array([1, 2]),
    ]) {
      w2.sendSync(item);
      expect(deserialize(await r2.recvBytes())).toStrictEqual(item);
    }
    await w2.sendBytes(Buffer.alloc(300_000, 3)); // larger than the ring: a side segment
    expect((await r2.recvBytes()).equals(Buffer.alloc(300_000, 3))).toBe(true);
    expect(() => Pipe('yes' as never)).toThrow(TypeError);
  });
});
