// A manager's server: the target of the manager's process. It holds ordinary
// JS objects (types.ts) and runs their methods for the proxies of every
// client, one request at a time, in the order the requests were put.
//
// Lifetimes. An object lives while some client holds a proxy of it: the
// server counts, per client, the proxies it made or sent to that client;
// a client says when it dropped some (Release), and a client that died
// (its thread is gone: checked every SWEEP_MS) or left (Bye) drops all of
// its own. A proxy sent from one process to another is counted "in flight"
// (client 0) from when its sender wrote it until its receiver adopts it; an
// object stored inside another object (a nested proxy) is kept until the
// manager shuts down.
import { Empty, Full } from '../base/errors';
import { getLogger } from '../base/logging';
import { toWire } from '../base/remote_error';
import { describe, isThenable } from '../base/validate';
import { Taker } from '../messaging/taker';
import type { Queue } from '../messaging/queue';
import { reopenHandle, registerHandleKind, toHandle, type HandleData, type Shareable } from '../share/handles';
import { letGoNow } from '../shm/holds';
import { identityAlive } from '../shm/thread';
import { Op, Status, type Answer, type Request } from './protocol';
import { PROXY_KIND, REF_KIND, type ProxyHandle, type RefHandle } from './refs';
import { TYPES, registeredSpec, type CallContext, type Registered, type TypeSpec } from './types';
import { HELD_SYNC } from './held_sync';
import { importExport } from '../base/modules';
import { listen, type ListenOptions, type Listening, type ResolvedAddress } from './listener';

const SWEEP_MS = 1000;
// What a proxy that cannot be revived becomes while its request is read (the request then fails).
const UNUSABLE = Object.freeze({});

interface Held {
  value: unknown;
  typeid: string;
  refs: number;
  /** Stored inside another object: kept until shutdown. */
  pinned: boolean;
}

interface ClientRecord {
  /** A local client's reply queue (a remote one's answers go to `write`). */
  reply: Queue<Answer> | undefined;
  /** A local client's thread (whether it lives); a remote one's connection says when it is gone. */
  identity: bigint | undefined;
  refs: Map<number, number>;
  /** Answers its reply queue had no room for: the server never blocks on one client. */
  backlog: Answer[];
  /** A remote client's connection: writes an answer (a frame); false if it could not. */
  write?: (answer: Answer) => boolean;
}

export interface ServerConfig {
  /** The server's key, which proxies carry (a random id). */
  key: string;
  /** Classes registered with Manager.register before start(). */
  registered: Registered[];
  /** Where it listens for remote clients, if anywhere. */
  listen?: ListenOptions;
}

/** What a Ping answers. */
export interface ServerStatus {
  pid: number;
  key: string;
  objects: number;
  address: ResolvedAddress | null;
  refused: number;
  /** The largest message it takes from a remote client. */
  maxMessageBytes: number | null;
}

/** An object of this server inside a request or an answer: what a proxy of it becomes here. */
class StoredRef implements Shareable {
  constructor(
    readonly id: number,
    readonly typeid: string,
    readonly server: Server,
  ) {}

  [toHandle](): HandleData {
    this.server.sending(this.id);
    const data: RefHandle = { kind: REF_KIND, server: this.server.key, id: this.id, typeid: this.typeid };
    const exposed = this.server.exposedOf(this.typeid);
    if (exposed) data.methods = [...exposed];
    return data;
  }
}

class Server {
  readonly key: string;
  readonly #objects = new Map<number, Held>();
  readonly #clients = new Map<number, ClientRecord>();
  readonly #types: Record<string, TypeSpec> = { ...TYPES, ...HELD_SYNC };
  /** Objects published by name (Manager.publish), for clients that have no proxy yet (a remote one). */
  readonly #names = new Map<string, number>();
  #nextRemote = -1;
  /** Its socket, if it has one (a manager given an address). */
  listening: Listening | undefined;
  maxMessageBytes: number | null = null;

  /** Adds a registered class. */
  addType(typeid: string, spec: TypeSpec): void {
    this.#types[typeid] = spec;
  }

  exposedOf(typeid: string): readonly string[] | undefined {
    return this.#types[typeid]?.exposed;
  }
  #nextId = 1;
  #to: ClientRecord | undefined; // the client an answer is being written for

  constructor(
    readonly requests: Queue<Request>,
    config: ServerConfig,
  ) {
    this.key = config.key;
    // A proxy of this server's objects that arrives (nested in a request) is the object itself, kept.
    const final = { final: true };
    registerHandleKind(PROXY_KIND, (data) => this.#revived(() => this.#arrived(data as unknown as ProxyHandle)), final);
    registerHandleKind(REF_KIND, (data) => this.#revived(() => this.#ref((data as unknown as RefHandle).id)), final);
    this.#clients.set(0, { reply: undefined, identity: undefined, refs: new Map(), backlog: [] });
  }

  /** A remote client connected (and authenticated): its id; `write` sends it an answer (false: it could not). */
  connected(write: (answer: Answer) => boolean): number {
    const id = this.#nextRemote--;
    this.#clients.set(id, { reply: undefined, identity: undefined, refs: new Map(), backlog: [], write });
    return id;
  }

  /** A remote client's connection closed: it drops what it held. */
  disconnected(id: number): void {
    this.#forget(id);
  }

  /** Whether `client` can still take an answer (its thread lives, or its connection is open). */
  alive(client: number): boolean {
    const record = this.#clients.get(client);
    if (!record) return false;
    return record.identity === undefined || identityAlive(record.identity);
  }

  readonly #alive = (client: number): boolean => this.alive(client);

  // The object of this manager a value names (a proxy that arrived in a request), or the value.
  readonly #deref = (value: unknown): unknown => (value instanceof StoredRef ? this.#objects.get(value.id)?.value : value);

  // A proxy in a request that cannot be what it says (of another manager, of
  // an object freed): the request is answered with the error, the server goes on.
  #decodeError: Error | undefined;

  #revived(make: () => StoredRef): object {
    try {
      return make();
    } catch (e) {
      this.#decodeError ??= e instanceof Error ? e : new Error(String(e));
      return UNUSABLE;
    }
  }

  #arrived(data: ProxyHandle): StoredRef {
    if (data.requests) reopenHandle(data.requests); // gives back what the handle reserved for this process
    if (data.server !== this.key) throw new TypeError('a proxy of another manager cannot be sent to this one (store its contents instead)');
    const held = this.#objects.get(data.id);
    if (!held) throw new ReferenceError(`the manager holds no object ${data.id} any more`);
    held.pinned = true;
    if (data.inFlight) this.#drop(0, data.id);
    return new StoredRef(data.id, held.typeid, this);
  }

  #ref(id: number): StoredRef {
    const held = this.#objects.get(id);
    if (!held) throw new ReferenceError(`the manager holds no object ${id} any more`);
    held.pinned = true;
    return new StoredRef(id, held.typeid, this);
  }

  /** An answer being written holds a ref of object `id`: the client it goes to holds one more. */
  sending(id: number): void {
    const held = this.#objects.get(id);
    if (!held || !this.#to) return;
    held.refs++;
    this.#to.refs.set(id, (this.#to.refs.get(id) ?? 0) + 1);
  }

  #add(client: number, id: number, n = 1): void {
    const record = this.#clients.get(client);
    const held = this.#objects.get(id);
    if (!record || !held) return;
    held.refs += n;
    record.refs.set(id, (record.refs.get(id) ?? 0) + n);
  }

  #drop(client: number, id: number, n = 1): void {
    const record = this.#clients.get(client);
    if (record) this.#dropOf(record, id, n);
  }

  #dropOf(record: ClientRecord, id: number, n: number): void {
    const mine = record.refs.get(id) ?? 0;
    const k = Math.min(n, mine);
    if (k === 0) return;
    if (mine === k) record.refs.delete(id);
    else record.refs.set(id, mine - k);
    const held = this.#objects.get(id);
    if (!held) return;
    held.refs -= k;
    if (held.refs <= 0 && !held.pinned) this.#objects.delete(id);
  }

  #forget(client: number): void {
    const record = this.#clients.get(client);
    if (!record) return;
    this.#clients.delete(client);
    // Its waits are dropped and the locks it held handed on (held_sync.ts), before its proxies go.
    const ctx: CallContext = { client, alive: this.#alive };
    for (const held of this.#objects.values()) {
      const forget = this.#types[held.typeid].forget;
      if (forget) forget.call(ctx, held.value as never, client);
    }
    for (const [id, n] of [...record.refs]) this.#dropOf(record, id, n);
    if (record.reply) {
      try {
        record.reply.close();
        letGoNow(record.reply);
      } catch {
        // its queue is gone already
      }
    }
  }

  /** Clients whose thread died drop what they held. */
  sweep(): void {
    for (const [id, record] of this.#clients) if (record.identity !== undefined && !identityAlive(record.identity)) this.#forget(id);
  }

  get objects(): number {
    return this.#objects.size;
  }

  /** Handles one request; false once told to shut down. */
  handle(request: Request): boolean {
    const bad = this.#decodeError;
    if (bad) {
      this.#decodeError = undefined;
      this.#answer(request[1], request[2], Status.Threw, toWire(bad));
      return true;
    }
    if (request[1] < 0) return this.#remote(request);
    return this.#local(request);
  }

  discardDecodeError(): void {
    this.#decodeError = undefined;
  }

  /** Answers `request` with `error` (the server could not start). */
  fail(request: Request, error: unknown): void {
    this.#answer(request[1], request[2], Status.Threw, toWire(error));
  }

  #local(request: Request): boolean {
    const [op, client, call] = request;
    switch (op) {
      case Op.Hello: {
        const [, , , reply, identity] = request;
        const old = this.#clients.get(client);
        if (old && old.reply !== reply) this.#forget(client); // a dead thread's id, reused
        if (!this.#clients.has(client)) this.#clients.set(client, { reply, identity: BigInt(identity), refs: new Map(), backlog: [] });
        this.#answer(client, call, Status.Ok, [process.pid, this.key]);
        return true;
      }
      case Op.Create: {
        const [, , , typeid, init] = request;
        this.#run(client, call, () => {
          const spec = this.#types[typeid];
          if (!spec) throw new TypeError(`the manager has no type ${JSON.stringify(typeid)}`);
          const id = this.#nextId++;
          this.#objects.set(id, { value: spec.make(init, this.#deref), typeid, refs: 0, pinned: false });
          this.#add(client, id);
          return [id, spec.exposed ?? null];
        });
        return true;
      }
      case Op.Call: {
        const [, , , id, method, args] = request;
        this.#run(
          client,
          call,
          () => {
            const held = this.#objects.get(id);
            if (!held) throw new ReferenceError(`the manager holds no object ${id} (its last proxy was dropped?)`);
            const fn = Object.prototype.hasOwnProperty.call(this.#types[held.typeid].methods, method)
              ? this.#types[held.typeid].methods[method]
              : undefined;
            if (!fn) throw new TypeError(`${held.typeid} has no method ${JSON.stringify(method)}`);
            if (!Array.isArray(args)) throw new TypeError(`the arguments must be an array, got ${describe(args)}`);
            const ctx: CallContext = { client, alive: this.#alive };
            const result = (fn as (this: CallContext, target: unknown, ...rest: unknown[]) => unknown).call(ctx, held.value, ...args);
            const typeid = this.#types[held.typeid].returns?.[method];
            return typeid === undefined ? result : this.#keep(result, typeid);
          },
          (value) => {
            // A result that could not be answered (a queue's item): the object takes it back if it can.
            const held = this.#objects.get(id);
            const spec = held && this.#types[held.typeid];
            spec?.undelivered?.call({ client, alive: this.#alive }, held!.value as never, method, value);
          },
        );
        return true;
      }
      case Op.Release:
        for (const id of request[3]) this.#drop(client, id);
        return true;
      case Op.Send:
        for (const id of request[3]) this.#add(0, id);
        return true;
      case Op.Unsend:
        for (const id of request[3]) this.#drop(0, id);
        return true;
      case Op.Adopt:
        for (const id of request[3]) {
          if ((this.#clients.get(0)!.refs.get(id) ?? 0) === 0) continue;
          this.#add(client, id);
          this.#drop(0, id);
        }
        return true;
      case Op.Bye:
        this.#forget(client);
        return true;
      case Op.Shutdown:
        this.#answer(client, call, Status.Ok, undefined);
        return false;
      case Op.Ping: {
        const status: ServerStatus = {
          pid: process.pid,
          key: this.key,
          objects: this.#objects.size,
          address: this.listening?.address ?? null,
          refused: this.listening?.refused ?? 0,
          maxMessageBytes: this.maxMessageBytes,
        };
        this.#answer(client, call, Status.Ok, status);
        return true;
      }
      case Op.Publish: {
        const [, , , name, proxy] = request;
        this.#run(client, call, () => {
          if (typeof name !== 'string' || name === '')
            throw new TypeError(`Manager.publish: the name must be a non-empty string, got ${describe(name)}`);
          if (!(proxy instanceof StoredRef)) throw new TypeError(`Manager.publish: give a proxy of this manager, got ${describe(proxy)}`);
          this.#names.set(name, proxy.id); // pinned by arriving
        });
        return true;
      }
      case Op.Lookup: {
        const [, , , name] = request;
        this.#run(client, call, () => {
          if (typeof name !== 'string') throw new TypeError(`Manager.lookup: the name must be a string, got ${describe(name)}`);
          const id = this.#names.get(name);
          if (id === undefined) throw new ReferenceError(`the manager has no object published as ${JSON.stringify(name)}`);
          return new StoredRef(id, this.#objects.get(id)!.typeid, this);
        });
        return true;
      }
      default:
        return true;
    }
  }

  // What a remote client may ask: no Hello (its connection is its reply), no Shutdown (only the manager's owner stops it).
  #remote(request: Request): boolean {
    const [op, client, call] = request;
    if (op === Op.Hello) return true;
    if (op === Op.Bye) {
      // close(): it waits for this answer, so that what it held is dropped before close() resolves.
      this.#answer(client, call, Status.Ok, undefined);
      this.#forget(client);
      return true;
    }
    if (op === Op.Shutdown) {
      this.#answer(
        client,
        call,
        Status.Threw,
        toWire(new Error('a manager reached by Manager.connect() is shut down by the process that started it')),
      );
      return true;
    }
    return this.#local(request);
  }

  // A method's result kept as an object of `typeid` (method_to_typeid): answered as a proxy of it.
  #keep(result: unknown, typeid: string): unknown {
    if (isThenable(result)) return Promise.resolve(result).then((v) => this.#keep(v, typeid));
    if (!this.#types[typeid]) throw new TypeError(`the manager has no type ${JSON.stringify(typeid)}`);
    const id = this.#nextId++;
    this.#objects.set(id, { value: result, typeid, refs: 0, pinned: false });
    return new StoredRef(id, typeid, this);
  }

  // Runs a request's work and answers it; `undelivered` gets a result that could not be answered (too large, not cloneable, its client gone).
  #run(client: number, call: number, fn: () => unknown, undelivered?: (value: unknown) => void): void {
    let status: Status = Status.Ok;
    let value: unknown;
    try {
      value = fn();
    } catch (e) {
      status = Status.Threw;
      value = toWire(e);
    }
    // An async method (of a registered class): answered when it settles; other requests go on meanwhile.
    if (isThenable(value)) {
      Promise.resolve(value).then(
        (v) => {
          if (!this.#answer(client, call, Status.Ok, v)) undelivered?.(v);
        },
        (e: unknown) => this.#answer(client, call, Status.Threw, toWire(e)),
      );
      return;
    }
    if (!this.#answer(client, call, status, value) && status === Status.Ok) undelivered?.(value);
  }

  /** Answers a call; false if the answer (a result) could not go: the caller got an error instead, or is gone. */
  #answer(client: number, call: number, status: Status, value: unknown): boolean {
    const record = this.#clients.get(client);
    if (call === 0) return true;
    if (!record) return false;
    const answer: Answer = status === Status.Ok && value === undefined ? [call, Status.Void, null] : [call, status, value];
    if (record.write) {
      this.#to = record;
      try {
        return record.write(answer);
      } catch (e) {
        if (status === Status.Ok) this.#answer(client, call, Status.Threw, toWire(e));
        return false;
      } finally {
        this.#to = undefined;
      }
    }
    if (record.backlog.length > 0) {
      record.backlog.push(answer);
      return true;
    }
    this.#to = record;
    try {
      record.reply!.putNowait(answer);
      return true;
    } catch (e) {
      if (e instanceof Full) {
        record.backlog.push(answer);
        this.#backlogged++;
        return true;
      }
      // Not cloneable (a method returned a function ...): the caller gets the error instead.
      if (status === Status.Ok) this.#answer(client, call, Status.Threw, toWire(e));
      return false;
    } finally {
      this.#to = undefined;
    }
  }

  /** Whether some client's answers wait for room in its reply queue. */
  get backlogged(): boolean {
    return this.#backlogged > 0;
  }

  #backlogged = 0;

  /** Puts what the backlogs hold, as far as their queues have room. */
  flush(): void {
    this.#backlogged = 0;
    for (const record of this.#clients.values()) {
      while (record.backlog.length > 0) {
        this.#to = record;
        try {
          record.reply!.putNowait(record.backlog[0]);
        } catch (e) {
          if (e instanceof Full) break;
          const [call] = record.backlog[0];
          record.backlog[0] = [call, Status.Threw, toWire(e)];
          continue;
        } finally {
          this.#to = undefined;
        }
        record.backlog.shift();
      }
      if (record.backlog.length > 0) this.#backlogged++;
    }
  }

  close(): void {
    for (const id of [...this.#clients.keys()]) if (id !== 0) this.#forget(id);
    this.#objects.clear();
  }
}

// Answers the first request that wants an answer (start()'s Ping) with `error`, then the server leaves.
async function failStart(requests: Queue<Request>, server: Server, error: unknown): Promise<void> {
  const taker = new Taker(requests);
  for (;;) {
    const request = await taker.take();
    if (request[0] === Op.Hello || request[2] === 0) server.handle(request);
    else return server.fail(request, error);
  }
}

/** The manager process's target. */
export async function managerServer(requests: Queue<Request>, config: ServerConfig): Promise<void> {
  // At a Ctrl-C the terminal signals the whole process group: the program decides (it dies with its parent).
  process.on('SIGINT', () => {});
  const server = new Server(requests, config);
  try {
    for (const r of config.registered) {
      const cls = await importExport(
        { module: r.module, exportName: r.exportName },
        () =>
          new TypeError(
            `the manager cannot find the class registered as ${JSON.stringify(r.typeid)}: ${r.module} exports no "${r.exportName}"`,
          ),
      );
      server.addType(r.typeid, registeredSpec(cls as new (...args: unknown[]) => object, r));
    }
    if (config.listen) {
      server.listening = await listen(server, config.listen);
      server.maxMessageBytes = config.listen.maxMessageBytes;
    }
  } catch (e) {
    // start() is waiting for its Ping's answer: it rejects with why, rather than "the manager is gone".
    await failStart(requests, server, e);
    return;
  }
  const taker = new Taker(requests);
  let swept = performance.now();
  const sweep = (): void => {
    const now = performance.now();
    if (now - swept < SWEEP_MS) return;
    swept = now;
    server.sweep();
  };
  const idle = (): void => {
    if (server.backlogged) server.flush();
    sweep();
  };
  for (;;) {
    let request: Request;
    try {
      if (server.listening) {
        // Its sockets are served by the event loop: wait without blocking it.
        try {
          request = await requests.get(server.backlogged ? 1 : SWEEP_MS);
        } catch (e) {
          if (!(e instanceof Empty)) throw e;
          idle();
          continue;
        }
      }
      // While answers wait for room, look again soon: the client reads them within moments.
      else request = await taker.take(idle, server.backlogged ? 1 : undefined);
    } catch (e) {
      // An item that cannot be decoded: its sender's call fails by its own checks; the server goes on.
      getLogger().error(`manager: a request could not be read: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (!server.handle(request)) break;
    if (server.backlogged) server.flush();
    sweep();
  }
  server.listening?.close();
  server.close();
}
