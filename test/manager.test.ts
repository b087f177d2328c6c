// Manager: a server process holding dicts, lists and namespaces, used by
// proxies in any process (real processes, real shared memory). Proxies
// travel to children as handles; values read are frozen copies outside
// production; the server's death fails every call at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { DictProxy, Event, Full, ListProxy, Manager, ManagerGoneError, Pool, Queue, RegisteredProxy } from '../dist/index.js';
import { fixture } from './helpers/child';
import { alive, processRunner } from './helpers/processes';

const M = fixture('manager-tasks.mjs');
const t: Record<string, any> = await import(M);
const { run } = processRunner(M);

// Registered before the shared manager starts (as in CPython, registration comes first).
Manager.register('Counter', t.Counter, { module: M, methodToTypeid: { fork: 'Counter' } });

let mgr: Manager;
beforeAll(async () => {
  mgr = new Manager();
  await mgr.start();
});
afterAll(async () => {
  await mgr.shutdown();
});

describe('proxies as Pool arguments', () => {
  it('a proxy in the arguments of every task of a starmap reaches each worker; the counts are exact', async () => {
    const d = mgr.dict<string, number>();
    const words = ['a', 'b', 'a', 'c', 'a', 'b'];
    const pool = new Pool(2, { module: M });
    try {
      await pool.starmap(
        t.tally,
        words.map((w) => [d, w]),
        { chunksize: 1 },
      );
    } finally {
      pool.close();
      await pool.join();
    }
    expect(await d.toObject()).toEqual({ a: 3, b: 2, c: 1 });
  });
});

describe('dict', () => {
  it('reads like a Map: every method, async and Sync', async () => {
    const d = mgr.dict<string | number, unknown>({ a: 1 });
    expect(d).toBeInstanceOf(DictProxy);
    expect(await d.get('a')).toBe(1);
    expect(d.getSync('missing', 'dflt')).toBe('dflt');
    await d.set(2, 'two'); // keys keep their type
    d.setSync('b', { nested: [1, 2] });
    expect(await d.has(2)).toBe(true);
    expect(d.hasSync('2')).toBe(false);
    expect(await d.size()).toBe(3);
    expect(d.keysSync()).toEqual(['a', 2, 'b']);
    expect(await d.values()).toEqual([1, 'two', { nested: [1, 2] }]);
    expect(await d.entries()).toEqual([
      ['a', 1],
      [2, 'two'],
      ['b', { nested: [1, 2] }],
    ]);
    const seen: unknown[] = [];
    for await (const [k] of d) seen.push(k);
    expect(seen).toEqual(['a', 2, 'b']);
    expect(await d.delete(2)).toBe(true);
    expect(d.deleteSync(2)).toBe(false);
    expect(await d.pop('a')).toBe(1);
    expect(d.popSync('a', 'gone')).toBe('gone');
    expect(await d.setDefault('c', 5)).toBe(5);
    expect(d.setDefaultSync('c', 9)).toBe(5);
    expect(await d.increment('n')).toBe(1);
    expect(d.incrementSync('n', 10)).toBe(11);
    await d.assign({ x: 1, y: 2 });
    d.assignSync(new Map([['z', 3]]));
    expect(await d.toObject()).toEqual({ b: { nested: [1, 2] }, c: 5, n: 11, x: 1, y: 2, z: 3 });
    expect(d.toMapSync()).toBeInstanceOf(Map);
    await d.clear();
    expect(d.sizeSync()).toBe(0);
    expect(mgr.dict([['k', 'v']]).getSync('k')).toBe('v');
    expect(mgr.dict(new Map([[1, 2]])).getSync(1)).toBe(2);
  });

  it('values read are frozen copies: mutating one throws instead of silently not reaching the manager', async () => {
    const d = mgr.dict({ cfg: { retries: 1, hosts: ['a'] } });
    const cfg = (await d.get('cfg')) as { retries: number; hosts: string[] };
    expect(() => {
      cfg.retries = 2;
    }).toThrow(TypeError);
    expect(() => cfg.hosts.push('b')).toThrow(TypeError);
    // Snapshots (keys, entries, toArray ...) are the caller's to sort; what they hold is frozen.
    const entries = await d.entries();
    entries.sort();
    expect(() => (entries[0][1] as { hosts: string[] }).hosts.push('c')).toThrow(TypeError);
    // The fix: write a new value back (or keep a nested proxy).
    await d.set('cfg', { ...cfg, retries: 2 });
    expect(((await d.get('cfg')) as { retries: number }).retries).toBe(2);
  });

  it('bad calls are clear errors from the server', async () => {
    const d = mgr.dict();
    await expect(d.increment('s', 'x' as unknown as number)).rejects.toThrow(/the amount must be a number/);
    d.setSync('s', 'text');
    expect(() => d.incrementSync('s')).toThrow(TypeError);
    expect(() => mgr.dict(5 as never)).toThrow(/init must be a Map/);
    await expect(d.set('f', () => 1)).rejects.toThrow(/function/);
  });
});

describe('list', () => {
  it('reads like an array: every method, async and Sync', async () => {
    const l = mgr.list<unknown>([1, 2, 3]);
    expect(l).toBeInstanceOf(ListProxy);
    expect(await l.get(0)).toBe(1);
    expect(l.getSync(-1)).toBe(3);
    await l.set(1, 20);
    expect(await l.push(4, 5)).toBe(5);
    expect(l.popSync()).toBe(5);
    expect(await l.shift()).toBe(1);
    expect(l.unshiftSync(0)).toBe(4);
    expect(await l.length()).toBe(4);
    expect(l.sliceSync(1, 3)).toEqual([20, 3]);
    expect(await l.splice(1, 1, 'x', 'y')).toEqual([20]);
    expect(l.toArraySync()).toEqual([0, 'x', 'y', 3, 4]);
    expect(await l.indexOf('y')).toBe(2);
    expect(l.includesSync(4)).toBe(true);
    expect(await l.increment(0, 5)).toBe(5);
    const seen: unknown[] = [];
    for await (const v of l) seen.push(v);
    expect(seen).toEqual([5, 'x', 'y', 3, 4]);
    await l.clear();
    expect(l.lengthSync()).toBe(0);
    await expect(l.get(0)).rejects.toThrow(RangeError);
    expect(() => l.getSync(1.5)).toThrow(/must be an integer/);
    expect(() => mgr.list('abc' as never)).toThrow(/init must be an array/);
  });
});

describe('Namespace', () => {
  it('is read and written with plain property access, in a child and in the parent (PyMOTW)', async () => {
    const ns = mgr.Namespace();
    const p = run(t.setAttrs, ns);
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(ns.value).toBe('This is the value');
    expect(ns.list).toEqual(['a', 'b']);
    expect('value' in ns).toBe(true);
    expect(Object.keys(ns)).toEqual(['value', 'list']);
    ns.n = 1;
    delete ns.value;
    expect({ ...ns }).toEqual({ list: ['a', 'b'], n: 1 });
    expect(ns.missing).toBeUndefined();
    // Not a thenable: `await ns` is ns itself.
    expect(await Promise.resolve(ns)).toBe(ns);
  });

  it('updating a mutable value in a namespace does not propagate: it throws (PyMOTW); reassigning does', () => {
    const ns = mgr.Namespace({ my_list: [] as string[] });
    expect(() => (ns.my_list as string[]).push('This is the value')).toThrow(TypeError);
    ns.my_list = [...(ns.my_list as string[]), 'This is the value'];
    expect(ns.my_list).toEqual(['This is the value']);
  });
});

describe('proxies travel', () => {
  it('to children as Process arguments (PyMOTW: each child sets one key)', async () => {
    const d = mgr.dict<number, number>();
    const ps = Array.from({ length: 4 }, (_, i) => run(t.setItem, d, i, i * 2));
    for (const p of ps) await p.join();
    expect(ps.map((p) => p.exitCode)).toEqual([0, 0, 0, 0]);
    expect(await d.toObject()).toEqual({ 0: 0, 1: 2, 2: 4, 3: 6 });
  });

  it('in queue items, and nested: a proxy stored in a dict comes back as a proxy', async () => {
    const outer = mgr.dict();
    const inner = mgr.dict();
    const p = run(t.nest, outer, inner);
    await p.join();
    expect(p.exitCode).toBe(0);
    const got = (await outer.get('inner')) as DictProxy;
    expect(got).toBeInstanceOf(DictProxy);
    expect(await got.get('from')).toBe('child');
    const q = new Queue();
    const l = mgr.list();
    q.putSync(l);
    const back = q.getSync() as ListProxy;
    await back.push('via a queue');
    expect(await l.toArray()).toEqual(['via a queue']);
  });

  it('concurrent increments from 4 processes: exact with increment(); the naive get-then-set loses updates', async () => {
    const d = mgr.dict({ atomic: 0, naive: 0 });
    const n = 500;
    const atomic = Array.from({ length: 4 }, () => run(t.increments, d, 'atomic', n, false));
    const naive = Array.from({ length: 4 }, () => run(t.increments, d, 'naive', n, true));
    for (const p of [...atomic, ...naive]) await p.join();
    expect(await d.get('atomic')).toBe(4 * n);
    // Each get and set is atomic, the pair is not: updates of other processes in between are overwritten.
    expect(await d.get('naive')).toBeLessThanOrEqual(4 * n);
  });
});

describe('lifetime', () => {
  it('objects whose proxies are all dropped are freed in the server', async () => {
    const internal = mgr as unknown as { _objectCount(): Promise<number>; _flushReleases(): void };
    const before = await internal._objectCount();
    (() => {
      for (let i = 0; i < 50; i++) mgr.dict({ i });
    })();
    expect(await internal._objectCount()).toBe(before + 50);
    // (Objects of the tests before may go too: their proxies are dropped as well.)
    for (let i = 0; i < 50 && (await internal._objectCount()) > before; i++) {
      globalThis.gc?.();
      await new Promise((r) => setTimeout(r, 10));
      internal._flushReleases();
    }
    expect(await internal._objectCount()).toBeLessThanOrEqual(before);
  });

  it('a manager killed with SIGKILL: every call fails at once with ManagerGoneError, in this process and in a child', async () => {
    const m = new Manager();
    await m.start();
    const d = m.dict({ x: 1 });
    const q = new Queue<string>();
    const gate = new Event();
    const child = run(t.callLater, d, q, gate);
    const pending = d.get('x').then(() => d.get('x'));
    process.kill(m.pid!, 'SIGKILL');
    await expect(
      (async () => {
        for (;;) await d.get('x');
      })(),
    ).rejects.toThrow(ManagerGoneError);
    expect(() => d.getSync('x')).toThrow(ManagerGoneError);
    await pending.catch(() => {});
    gate.set();
    expect(await q.get()).toBe('ManagerGoneError ERR_MP_MANAGER_GONE');
    expect(await q.get()).toBe('ManagerGoneError ERR_MP_MANAGER_GONE');
    await child.join();
    await m.shutdown();
    expect(() => m.dict()).toThrow(ManagerGoneError);
  });

  it('shutdown() with proxies alive in children: they fail with ManagerGoneError; no process is left', async () => {
    const m = new Manager();
    await m.start();
    const pid = m.pid!;
    const d = m.dict();
    const q = new Queue<string>();
    const gate = new Event();
    const child = run(t.callLater, d, q, gate);
    await m.shutdown();
    expect(alive(pid)).toBe(false);
    gate.set();
    expect(await q.get()).toBe('ManagerGoneError ERR_MP_MANAGER_GONE');
    expect(await q.get()).toBe('ManagerGoneError ERR_MP_MANAGER_GONE');
    await child.join();
    await expect(d.get('x')).rejects.toThrow(/shut down/);
  });

  it('misuse: not started, started twice, bad options', async () => {
    const m = new Manager();
    expect(() => m.dict()).toThrow(/not started/);
    expect(() => new Manager({ nmae: 'x' } as never)).toThrow(/nmae/);
    await m.start();
    await expect(m.start()).rejects.toThrow(/started already/);
    await m.shutdown();
    await m.shutdown(); // twice is fine
  });
});

describe('review findings', () => {
  const internal = (): { _objectCount(): Promise<number>; _flushReleases(): void } =>
    mgr as unknown as { _objectCount(): Promise<number>; _flushReleases(): void };
  const collect = async (done: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 50 && !(await done()); i++) {
      globalThis.gc?.();
      await new Promise((r) => setTimeout(r, 10));
      internal()._flushReleases();
    }
  };

  it('40 000 async calls fired without awaiting all complete (was: a deadlock, both queues full)', async () => {
    const d = mgr.dict<number, number>();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40_000; i++) calls.push(d.set(i, i));
    await Promise.all(calls);
    expect(await d.size()).toBe(40_000);
    expect(await d.get(39_999)).toBe(39_999);
  });

  it('a proxy of another manager sent to this one fails that call; the server goes on (was: it exited)', async () => {
    const other = new Manager();
    await other.start();
    const foreign = other.dict();
    const d = mgr.dict();
    expect(() => d.setSync('x', foreign)).toThrow(/another manager/);
    await expect(d.set('x', foreign)).rejects.toThrow(/another manager/);
    d.setSync('y', 1);
    expect(d.getSync('y')).toBe(1);
    await other.shutdown();
  });

  it('the same proxy twice in one message is one proxy, counted once (was: freed while one was alive)', async () => {
    const q = new Queue<ListProxy[]>();
    let l: ListProxy | undefined = mgr.list<unknown>([1]);
    q.putSync([l, l] as ListProxy[]);
    l = undefined;
    const got = q.getSync();
    expect(got[0]).toBe(got[1]);
    const keep = got[1];
    got.length = 0;
    const before = await internal()._objectCount();
    await collect(async () => (await internal()._objectCount()) < before);
    expect(await keep.toArray()).toEqual([1]);
  });

  it('a proxy that was not sent after all (a full queue) is not kept in flight (was: never freed)', async () => {
    const q = new Queue(1);
    q.putSync('filler');
    const before = await internal()._objectCount();
    (() => {
      const p = mgr.dict();
      expect(() => q.putNowait(p)).toThrow(Full);
    })();
    await collect(async () => (await internal()._objectCount()) <= before);
    expect(await internal()._objectCount()).toBeLessThanOrEqual(before);
    q.getSync();
  });

  it('splice() with no arguments removes nothing; object keys are refused (a copy could never be found again)', () => {
    const l = mgr.list([1, 2, 3]);
    expect(l.spliceSync()).toEqual([]);
    expect(l.lengthSync()).toBe(3);
    const d = mgr.dict();
    expect(() => d.setSync([1, 2] as never, 'x')).toThrow(/a key must be a string/);
    expect(() => d.hasSync({ a: 1 })).toThrow(TypeError);
    expect(() => mgr.dict([[{}, 1]] as never)).toThrow(TypeError);
  });

  it("a Namespace's reserved names are refused; inspection shows its contents", () => {
    const ns = mgr.Namespace({ a: 1 });
    expect(() => (ns.then = 1)).toThrow(/itself/);
    const constructorKey: string = 'constructor';
    expect(() => (ns[constructorKey] = 1)).toThrow(/itself/);
    expect('constructor' in ns).toBe(false);
    expect(inspect(ns)).toBe('Namespace { a: 1 }');
    expect(() => mgr.Namespace({ then: 1 })).toThrow(/answers itself/);
  });

  it('new-user trial: clear errors for bad dict() entries, a Manager sent to a child, start() after shutdown', async () => {
    expect(() => mgr.dict([1, 2] as never)).toThrow(/each entry must be a \[key, value\] pair, got number 1/);
    const q = new Queue();
    expect(() => q.putSync(mgr)).toThrow(/a Manager cannot be sent/);
    expect(inspect(mgr.dict())).toMatch(/^DictProxy #\d+ \(manager pid \d+\)$/);
    expect(() => new Manager({ bogus: 1 } as never)).toThrow(/unknown Manager option "bogus"/);
    const m = new Manager();
    await m.start();
    await m.shutdown();
    await expect(m.start()).rejects.toThrow(ManagerGoneError);
  });
});

describe('Manager.register', () => {
  it('a registered class: its public methods, async and Sync, from the parent and from children', async () => {
    const c = mgr.create<RegisteredProxy & Record<string, (...a: unknown[]) => any>>('Counter', 10);
    expect(c).toBeInstanceOf(RegisteredProxy);
    expect(await c.add(5)).toBe(15);
    expect(c.addSync()).toBe(16);
    expect(await c.later(21)).toBe(42); // an async method is awaited in the server
    expect(await c.call('value')).toBe(16);
    expect((c as unknown as { _secret?: unknown })._secret).toBeUndefined();
    await expect(c.call('_secret')).rejects.toThrow(/no method "_secret"/);
    const ps = [run(t.addInChild, c, 50), run(t.addInChild, c, 50)];
    for (const p of ps) await p.join();
    expect(ps.map((p) => p.exitCode)).toEqual([0, 0]);
    expect(c.valueSync()).toBe(116);
    expect(inspect(c)).toMatch(/^Counter proxy #\d+/);
  });

  it('methodToTypeid: the result stays in the manager and comes back as a proxy', async () => {
    const c = mgr.create<Record<string, (...a: unknown[]) => any>>('Counter', 3);
    const f = (await c.fork()) as Record<string, (...a: unknown[]) => any>;
    expect(f).toBeInstanceOf(RegisteredProxy);
    expect(await f.add(1)).toBe(4);
    expect(await c.value()).toBe(3);
  });

  it('misuse: unknown type, built-in names, non-exported classes, bad options', () => {
    expect(() => mgr.create('Nope')).toThrow(/no type "Nope" was registered/);
    expect(() => Manager.register('dict', t.Counter, { module: M })).toThrow(/built-in/);
    expect(() => Manager.register('1x', t.Counter, { module: M })).toThrow(/identifier-like/);
    class Local {}
    expect(() => Manager.register('Local', Local)).toThrow(TypeError);
    expect(() => Manager.register('C2', t.Counter, { module: M, methodToTypeid: { nope: 'Counter' } })).toThrow(/not exposed/);
    expect(() => Manager.register('C3', t.Counter, { module: M, bogus: 1 } as never)).toThrow(/bogus/);
  });
});
