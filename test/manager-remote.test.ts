// Remote managers over real sockets (TCP on loopback, a Unix socket): the
// mutual HMAC handshake (checked here with node:crypto, independently of
// the code under test), what a wrong key, garbage, a 1 GB frame or a
// slow-loris client does before authentication (refused, nothing executed,
// the server goes on), size bounds after it, clients that disconnect or are
// SIGKILLed mid-call, and a manager killed under its remote clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  AsyncNamespaceProxy,
  AuthenticationError,
  DictProxy,
  Event,
  Manager,
  ManagerGoneError,
  QueueProxy,
  RemoteManager,
  BrokenBarrierError,
  processAuthkey,
  serialize,
} from '../dist/index.js';
import { fixture } from './helpers/child';
import { eventually, processRunner } from './helpers/processes';

const M = fixture('manager-tasks.mjs');
const R = fixture('remote-tasks.mjs');
const t: Record<string, any> = await import(M);
const remote: Record<string, any> = await import(R);
const { run } = processRunner(R);

const AUTHKEY = 'test-authkey';
let mgr: Manager;
// The server's status (an internal call): its objects and the connections it refused.
const status = (): Promise<{ objects: number; refused: number }> => (mgr as any)._status();
let address: { host: string; port: number };
beforeAll(async () => {
  Manager.register('Counter', t.Counter, { module: M });
  // A module that imports multiproc itself: the server then loads the client's side too (and must keep its own).
  Manager.register('Greeter', remote.Greeter, { module: R });
  mgr = new Manager({ address: { host: '127.0.0.1', port: 0 }, authkey: AUTHKEY, authTimeout: 500, maxMessageBytes: 64 * 1024 });
  await mgr.start();
  address = mgr.address as { host: string; port: number };
});
afterAll(async () => {
  await mgr.shutdown();
});

// ---- a raw client, speaking the wire by hand
function header(payload: Buffer): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}
class Raw {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      this.#waiters.splice(0).forEach((w) => w());
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.#waiters.splice(0).forEach((w) => w());
    });
  }
  async frame(): Promise<Buffer> {
    for (;;) {
      if (this.#buf.length >= 4) {
        const n = this.#buf.readUInt32BE(0);
        if (this.#buf.length >= 4 + n) {
          const f = this.#buf.subarray(4, 4 + n);
          this.#buf = this.#buf.subarray(4 + n);
          return f;
        }
      }
      if (this.closed) throw new Error('closed');
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  send(payload: Buffer): void {
    this.socket.write(header(payload));
  }
  async whenClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.#waiters.push(r));
  }
}
// The answer to a challenge: CPython's, with the answerer's role inside the MAC (see ts/manager/auth.ts).
const mac = (key: string, role: 'client' | 'server', message: Buffer): Buffer =>
  Buffer.concat([Buffer.from('{sha256}'), createHmac('sha256', key).update(`multiproc-${role}:`).update(message).digest()]);

// Frames read from a socket, one at a time.
function frames(socket: net.Socket): () => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    wake?.();
  });
  return async () => {
    for (;;) {
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        const f = buf.subarray(4, 4 + n);
        buf = buf.subarray(4 + n);
        return f;
      }
      await new Promise<void>((r) => (wake = r));
    }
  };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

describe('with the right key', () => {
  it('a job queue over TCP: publish/lookup, and a child that connects with the authkey it inherited', async () => {
    const m = new Manager({ address: { host: '127.0.0.1', port: 0 } }); // no authkey: this process's
    await m.start();
    try {
      expect(m.authkey!.equals(processAuthkey())).toBe(true);
      const jobs = m.Queue<number | null>();
      const results = m.Queue<number>();
      await m.publish('jobs', jobs);
      await m.publish('results', results);
      const workers = [run(remote.connectInherited, m.address), run(remote.connectInherited, m.address)];
      for (let i = 1; i <= 20; i++) jobs.putSync(i);
      jobs.putSync(null);
      jobs.putSync(null);
      const got: number[] = [];
      for (let i = 0; i < 20; i++) got.push(await results.get({ timeout: 30_000 }));
      for (const w of workers) await w.join();
      expect(workers.map((w) => w.exitCode)).toEqual([0, 0]);
      expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) ** 2));
    } finally {
      await m.shutdown();
    }
  });

  it('every factory works over the socket; proxies are async only; a remote Namespace is read with get/set', async () => {
    const r = await Manager.connect(address, AUTHKEY);
    expect(r).toBeInstanceOf(RemoteManager);
    expect(r.pid).toBe(mgr.pid);
    const d = await r.dict<string, number>({ a: 1 });
    expect(d).toBeInstanceOf(DictProxy);
    expect(await d.increment('a')).toBe(2);
    expect(() => d.getSync('a')).toThrow(/no Sync methods/);
    const l = await r.list([1]);
    expect(await l.push(2)).toBe(2);
    const ns = await r.Namespace({ x: 1 });
    expect(ns).toBeInstanceOf(AsyncNamespaceProxy);
    // Property access would read or set a local property and lose the value: it throws.
    expect(() => (ns as any).x).toThrow(/await ns.get\("x"\)/);
    expect(() => ((ns as any).x = 1)).toThrow(/ns.set\("x", value\)/);
    await ns.set('y', 2);
    expect(await ns.toObject()).toEqual({ x: 1, y: 2 });
    const q = await r.Queue();
    expect(q).toBeInstanceOf(QueueProxy);
    await q.put('x');
    expect(await q.get()).toBe('x');
    const lock = await r.Lock();
    expect(await lock.acquire()).toBe(true);
    await lock.release();
    for (const make of [
      () => r.RLock(),
      () => r.Semaphore(1),
      () => r.Event(),
      () => r.Condition(),
      () => r.Barrier(1),
      () => r.JoinableQueue(),
    ])
      expect(await make()).toBeTruthy();
    expect(await (await r.Value('i', 3)).increment()).toBe(4);
    expect(await (await r.Array('d', [1.5])).toArray()).toEqual([1.5]);
    const c = await r.create<any>('Counter', 5);
    expect(await c.add(2)).toBe(7);
    const g = await r.create<any>('Greeter');
    expect(await g.hello('you')).toBe('hello you');
    await r.publish('greeter', g);
    await expect(r.create('dict')).rejects.toThrow(/built-in type/);
    // The local owner sees what the remote client made, through a published name.
    await r.publish('from-remote', d);
    expect((await mgr.lookup<DictProxy<string, number>>('from-remote')).getSync('a')).toBe(2);
    await expect(r.lookup('nothing')).rejects.toThrow(/no object published as "nothing"/);
    // Shared-memory objects cannot go to a remote manager (another host could not open them).
    await expect(d.set('e', new Event() as never)).rejects.toThrow(/lives in this machine's shared memory/);
    await r.close();
    await expect(d.get('a')).rejects.toBeInstanceOf(ManagerGoneError);
  });

  it('a proxy of a remote manager sent to a child: the child connects by itself', async () => {
    const r = await Manager.connect(address, AUTHKEY);
    const d = await r.dict<string, number>();
    const p = new (await import('../dist/index.js')).Process({ target: remote.useRemoteProxy, args: [d], module: R });
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(await d.get('child')).toBe(p.pid);
    expect(await d.get('n')).toBe(1);
    await r.close();
  });

  it('a Unix socket: mode 0600, served, removed at shutdown', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-mgr-'));
    const sock = path.join(dir, 'manager.sock');
    const m = new Manager({ address: { path: sock }, authkey: AUTHKEY });
    await m.start();
    try {
      expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
      const r = await Manager.connect({ path: sock }, AUTHKEY);
      const d = await r.dict({ k: 'v' });
      expect(await d.get('k')).toBe('v');
      await r.close();
    } finally {
      await m.shutdown();
    }
    expect(fs.existsSync(sock)).toBe(false);
    // A manager killed leaves its socket file: the next one on that path removes it (nobody answers there).
    const killed = new Manager({ address: { path: sock }, authkey: AUTHKEY });
    await killed.start();
    process.kill(killed.pid!, 'SIGKILL');
    await killed.shutdown();
    expect(fs.existsSync(sock)).toBe(true);
    const again = new Manager({ address: { path: sock }, authkey: AUTHKEY });
    await again.start();
    await again.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('before authentication', () => {
  it('a wrong key: AuthenticationError for the client, a refusal on the server, nothing executed', async () => {
    const before = await status();
    await expect(Manager.connect(address, 'not-the-key')).rejects.toBeInstanceOf(AuthenticationError);
    // By hand: a wrong answer, then a request anyway.
    const raw = new Raw(address.port);
    const challenge = await raw.frame();
    expect(challenge.subarray(0, 11).toString()).toBe('#CHALLENGE#');
    raw.send(mac('not-the-key', 'client', challenge.subarray(11)));
    expect((await raw.frame()).toString()).toBe('#FAILURE#');
    raw.send(Buffer.from('anything at all'));
    await raw.whenClosed();
    const after = await status();
    expect(after.refused).toBeGreaterThanOrEqual(before.refused + 2);
    expect(after.objects).toBe(before.objects);
  });

  it('the handshake is both ways: a server with another key is refused by the client', async () => {
    // A fake "server" that accepts any answer and then answers the client's challenge wrongly.
    const fake = net.createServer((s) => {
      s.on('error', () => {});
      s.write(header(Buffer.concat([Buffer.from('#CHALLENGE#{sha256}'), randomBytes(40)])));
      let step = 0;
      s.on('data', () => {
        if (step++ === 0) s.write(Buffer.concat([header(Buffer.from('#WELCOME#'))]));
      });
      setTimeout(() => s.destroy(), 200);
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const port = (fake.address() as net.AddressInfo).port;
    await expect(Manager.connect({ host: '127.0.0.1', port }, AUTHKEY)).rejects.toThrow(/manager|authkey|challenge/);
    fake.close();
  });

  it("a fake server that knows no key cannot relay a client's own challenge back to it (the role is in the MAC)", async () => {
    // Connection A: accept any answer, take the client's challenge C, and have the client
    // answer C itself on connection B; hand that answer back on A as "the server's".
    const conns: { socket: net.Socket; next: () => Promise<Buffer> }[] = [];
    let second: (c: { socket: net.Socket; next: () => Promise<Buffer> }) => void;
    const gotSecond = new Promise<{ socket: net.Socket; next: () => Promise<Buffer> }>((r) => (second = r));
    const fake = net.createServer((socket) => {
      socket.on('error', () => {});
      const c = { socket, next: frames(socket) };
      conns.push(c);
      if (conns.length === 2) second(c);
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const at = { host: '127.0.0.1', port: (fake.address() as net.AddressInfo).port };
    const a = Manager.connect(at, AUTHKEY, { authTimeout: 2000 });
    await eventually(() => conns.length === 1, 'the first connection');
    const A = conns[0];
    A.socket.write(header(Buffer.concat([Buffer.from('#CHALLENGE#{sha256}'), randomBytes(40)])));
    await A.next(); // the client's answer: accepted without a check
    A.socket.write(header(Buffer.from('#WELCOME#')));
    const clientsChallenge = await A.next();
    const b = Manager.connect(at, AUTHKEY, { authTimeout: 2000 });
    const B = await gotSecond;
    B.socket.write(header(clientsChallenge)); // the client's own challenge, as the fake's
    const reflected = await B.next();
    A.socket.write(header(reflected)); // ... its answer, as the fake's answer on A
    await expect(a).rejects.toBeInstanceOf(AuthenticationError);
    await expect(b).rejects.toBeInstanceOf(ManagerGoneError); // B never gets a verdict
    for (const c of conns) c.socket.destroy();
    fake.close();
  });

  it('garbage, a 1 GB frame and a slow-loris client: refused, the server keeps serving, its memory does not grow', async () => {
    const before = await status();
    const rss = rssKiB(mgr.pid!);
    const garbage = new Raw(address.port);
    await garbage.frame(); // the challenge
    garbage.socket.write(randomBytes(300));
    await garbage.whenClosed();

    const huge = new Raw(address.port);
    await huge.frame();
    const h = Buffer.alloc(4);
    h.writeUInt32BE(1 << 30, 0);
    huge.socket.write(h);
    for (let i = 0; i < 8 && !huge.closed; i++) huge.socket.write(Buffer.alloc(1 << 20));
    await huge.whenClosed();

    const loris = new Raw(address.port);
    await loris.frame();
    loris.socket.write(Buffer.from([0, 0])); // half a header, then nothing: the authTimeout ends it
    const other = await Manager.connect(address, AUTHKEY); // meanwhile, served
    expect(await (await other.dict({ ok: true })).get('ok')).toBe(true);
    await other.close();
    await loris.whenClosed();

    const after = await status();
    expect(after.refused).toBeGreaterThanOrEqual(before.refused + 3);
    expect(rssKiB(mgr.pid!) - rss).toBeLessThan(64 * 1024);
  });
});

describe('after authentication', () => {
  it('messages are size-bounded: a large request fails that call only; a raw oversized frame cuts the connection', async () => {
    const r = await Manager.connect(address, AUTHKEY);
    const d = await r.dict();
    await expect(d.set('big', 'x'.repeat(100 * 1024))).rejects.toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE' });
    await d.set('small', 1);
    expect(await d.get('small')).toBe(1);
    // An answer over the bound: that call fails.
    const l = await r.list();
    for (let i = 0; i < 8; i++) await l.push('y'.repeat(10 * 1024));
    await expect(l.toArray()).rejects.toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE' });
    expect(await l.length()).toBe(8);
    await r.close();

    const before = await status();
    const raw = new Raw(address.port);
    const challenge = (await raw.frame()).subarray(11);
    raw.send(mac(AUTHKEY, 'client', challenge));
    expect((await raw.frame()).toString()).toBe('#WELCOME#');
    const mine = Buffer.concat([Buffer.from('{sha256}'), randomBytes(40)]);
    raw.send(Buffer.concat([Buffer.from('#CHALLENGE#'), mine]));
    expect((await raw.frame()).equals(mac(AUTHKEY, 'server', mine))).toBe(true); // the server knows the key too
    raw.send(Buffer.from('#WELCOME#'));
    const h = Buffer.alloc(4);
    h.writeUInt32BE(10 * 1024 * 1024, 0);
    raw.socket.write(h);
    await raw.whenClosed();
    await eventually(async () => (await status()).refused > before.refused, 'the refusal');
  });

  it("a malformed request from an authenticated peer cuts that connection only; a malformed answer fails the client's calls, not the client", async () => {
    const raw = new Raw(address.port);
    raw.send(mac(AUTHKEY, 'client', (await raw.frame()).subarray(11)));
    expect((await raw.frame()).toString()).toBe('#WELCOME#');
    const mine = Buffer.concat([Buffer.from('{sha256}'), randomBytes(40)]);
    raw.send(Buffer.concat([Buffer.from('#CHALLENGE#'), mine]));
    await raw.frame();
    raw.send(Buffer.from('#WELCOME#'));
    raw.send(Buffer.concat([Buffer.from([2]), Buffer.from('[3,0,0,5]')])); // Release with ids that are not a list
    raw.send(Buffer.concat([Buffer.from([2]), Buffer.from('[8,0,1]')])); // a Ping behind it: not run
    await raw.whenClosed();
    expect((await status()).objects).toBeGreaterThan(0); // the server is there

    // A server that knows the key, then answers garbage.
    const fake = net.createServer((socket) => void answerGarbage(socket));
    async function answerGarbage(socket: net.Socket): Promise<void> {
      socket.on('error', () => {});
      const next = frames(socket);
      const challenge = Buffer.concat([Buffer.from('{sha256}'), randomBytes(40)]);
      socket.write(header(Buffer.concat([Buffer.from('#CHALLENGE#'), challenge])));
      await next();
      socket.write(header(Buffer.from('#WELCOME#')));
      const theirs = (await next()).subarray(11);
      socket.write(header(mac(AUTHKEY, 'server', theirs)));
      await next(); // #WELCOME#
      await next(); // the client's Hello
      await next(); // its Ping
      socket.write(header(Buffer.concat([Buffer.from([2]), Buffer.from('null')])));
    }
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    await expect(Manager.connect({ host: '127.0.0.1', port: (fake.address() as net.AddressInfo).port }, AUTHKEY)).rejects.toThrow(
      /not an answer/,
    );
    fake.close();
  });

  it('an answer too large for the client fails its call, and a queue keeps the item', async () => {
    const q = mgr.Queue<string>();
    await mgr.publish('big', q);
    const r = await Manager.connect(address, AUTHKEY, { maxMessageBytes: 2048 });
    const rq = await r.lookup<QueueProxy<string>>('big');
    await q.put('z'.repeat(10_000));
    await expect(rq.get()).rejects.toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LARGE' });
    expect((await q.get({ timeout: 1000 })).length).toBe(10_000);
    await r.close();
  });

  it("a remote proxy's handle carries the authkey only to a child being started", async () => {
    const r = await Manager.connect(address, AUTHKEY);
    const d = await r.dict();
    const hex = Buffer.from(AUTHKEY).toString('hex');
    expect(serialize(d).toString('latin1')).not.toContain(hex);
    await r.close();
  });

  it('a client that disconnects mid-call: its wait is dropped (the item goes to the next getter), its lock released', async () => {
    const q = mgr.Queue<string>();
    const lock = mgr.Lock();
    await mgr.publish('q', q);
    await mgr.publish('lock', lock);
    const r = await Manager.connect(address, AUTHKEY);
    const rq = await r.lookup<QueueProxy<string>>('q');
    const rl = await r.lookup<any>('lock');
    expect(await rl.acquire()).toBe(true);
    const pending = rq.get().catch((e: unknown) => e);
    await r.close(); // resolves once the server has dropped its waits and released its lock
    expect(await pending).toBeInstanceOf(ManagerGoneError);
    expect(await lock.locked()).toBe(false);
    await q.put('kept');
    expect(await q.get({ timeout: 1000 })).toBe('kept');
    // A party that leaves a barrier breaks it: the other one does not pass alone.
    const b = mgr.Barrier(2);
    await mgr.publish('b', b);
    const r2 = await Manager.connect(address, AUTHKEY);
    const rb = await r2.lookup<any>('b');
    const leaving = rb.wait().catch((e: unknown) => e);
    await eventually(async () => (await b.nWaiting()) === 1, 'the remote party at the barrier');
    await r2.close();
    expect(await leaving).toBeInstanceOf(ManagerGoneError);
    await expect(b.wait(30_000)).rejects.toBeInstanceOf(BrokenBarrierError);

    // The same for a remote client in a child that is SIGKILLed.
    const ready = new Event();
    const child = run(remote.lockThenGet, address, AUTHKEY, ready);
    expect(await ready.wait(30_000)).toBe(true);
    expect(await lock.acquire({ block: false })).toBe(false);
    child.kill();
    await child.join();
    expect(await lock.acquire({ timeout: 30_000 })).toBe(true);
    await lock.release();
    await q.put('kept again');
    expect(await q.get({ timeout: 30_000 })).toBe('kept again');
  });
});

describe('the manager dies', () => {
  it('SIGKILLed: every remote call fails at once with ManagerGoneError', async () => {
    const m = new Manager({ address: { host: '127.0.0.1', port: 0 }, authkey: AUTHKEY });
    await m.start();
    const r = await Manager.connect(m.address!, AUTHKEY);
    const q = await r.Queue();
    const waiting = q.get();
    process.kill(m.pid!, 'SIGKILL');
    await expect(waiting).rejects.toBeInstanceOf(ManagerGoneError);
    await expect(q.put(1)).rejects.toBeInstanceOf(ManagerGoneError);
    await expect(Manager.connect(m.address!, AUTHKEY)).rejects.toBeInstanceOf(ManagerGoneError);
    await m.shutdown();
  });
});

describe('start() fails with the reason', () => {
  it('an address already in use, or a registered class whose module fails in the server: start() rejects with why', async () => {
    const taken = new Manager({ address: { host: '127.0.0.1', port: address.port }, authkey: AUTHKEY });
    await expect(taken.start()).rejects.toThrow(/EADDRINUSE/);
    const U = fixture('manager-unloadable.mjs');
    const u: Record<string, any> = await import(U);
    Manager.register('Unloadable', u.Unloadable, { module: U });
    try {
      const m = new Manager();
      await expect(m.start()).rejects.toThrow(/this module cannot load in the manager/);
      expect(m.pid).toBeGreaterThan(0);
      await expect(m.lookup('x')).rejects.toBeInstanceOf(ManagerGoneError);
    } finally {
      (Manager as any)._unregister('Unloadable');
    }
  });
});

describe('bad inputs', () => {
  it('clear errors for bad addresses, keys and options', async () => {
    expect(() => new Manager({ address: { host: '127.0.0.1', port: -1 } })).toThrow(/port must be an integer/);
    expect(() => new Manager({ address: { path: '' } })).toThrow(/non-empty string/);
    expect(() => new Manager({ address: { path: 'x'.repeat(200) } })).toThrow(/at most 107 bytes/);
    expect(() => new Manager({ authkey: 'k' })).toThrow(/give an address too/);
    expect(() => new Manager({ address: { port: 0 }, authkey: undefined })).toThrow(/authkey is undefined/);
    await expect(Manager.connect(address, undefined)).rejects.toThrow(/authkey is undefined/);
    await expect(mgr.lookup(42 as never)).rejects.toBeInstanceOf(TypeError);
    expect(() => new Manager({ address: { host: 'h', port: 1 }, authkey: '' })).toThrow(/non-empty string or Uint8Array/);
    expect(() => new Manager({ address: { host: 'h', port: 1 }, maxMessageBytes: 10 })).toThrow(/maxMessageBytes/);
    await expect(Manager.connect({ host: '127.0.0.1', port: 1 }, 'k')).rejects.toBeInstanceOf(ManagerGoneError);
    await expect(Manager.connect({ nonsense: 1 } as never, 'k')).rejects.toThrow(/unknown Manager.connect address option/);
    await expect(mgr.publish('', mgr.dict())).rejects.toThrow(/non-empty string/);
    await expect(mgr.publish('x', {})).rejects.toThrow(/give a proxy of this manager/);
  });
});
