// A manager (Python's multiprocessing.Manager()): a server process that
// holds ordinary JS objects -- dicts, lists, namespaces -- which any process
// given one of their proxies reads and changes. Requests and answers travel
// on shared-memory queues (protocol.ts); the server runs them one at a time.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addon } from '../binding/addon';
import { ManagerGoneError } from '../base/errors';
import { processAuthkey } from '../base/identity';
import { resolveExport } from '../base/modules';
import { checkKeys, describe } from '../base/validate';
import { Queue } from '../messaging/queue';
import { Process } from '../process/process';
import { toHandle } from '../share/handles';
import { letGoNow } from '../shm/holds';
import { authkeyBytes } from './auth';
import { discardRequests, type Client } from './client';
import { connectLocal, makeProxy } from './make_proxy';
import { INIT, checkAddress, checkLimits, type Factories, type Limits } from './inits';
import { Op, type Request } from './protocol';
import type { DictProxy, ListProxy, NamespaceProxy, RegisteredProxy } from './proxies';
import type {
  ArrayProxy,
  BarrierProxy,
  ConditionProxy,
  EventProxy,
  JoinableQueueProxy,
  LockProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
} from './held_proxies';
import type { Address, ResolvedAddress } from './listener';
import { RemoteManager, type ConnectOptions } from './remote_manager';
import type { Registered } from './types';
import { managerServer, type ServerStatus } from './server';
import type { Typecode, ValueOf } from '../values/typecodes';

const SERVER_MODULE = pathToFileURL(path.join(__dirname, 'server.js')).href;
// shutdown(): how long the server has to leave after each step (answer, SIGTERM) before the next.
const SHUTDOWN_STEP_MS = 1000;

let managerNumber = 0;

export interface ManagerOptions extends Limits {
  /** The server process's name (default SyncManager-N). */
  name?: string;
  /**
   * Where the server also listens for remote clients (Manager.connect): TCP
   * ({ host, port }; port 0 picks a free one, see `address` after start) or
   * a Unix socket ({ path }, made with mode 0600). Without it the manager
   * serves only processes of this machine that receive its proxies.
   */
  address?: Address;
  /** What remote clients must prove they know (default: this process's authkey, which children inherit). */
  authkey?: string | Uint8Array;
}

export interface RegisterOptions {
  /** The methods proxies may call (default: the public methods of the class's prototype chain). */
  exposed?: readonly string[];
  /** The module that exports the class, if not the main script. */
  module?: string | URL;
  /** Methods whose result the manager keeps as an object of another registered type, answering with its proxy (CPython's method_to_typeid). */
  methodToTypeid?: Readonly<Record<string, string>>;
}

const BUILT_IN = new Set(['dict', 'list', 'Namespace', ...Object.keys(INIT)]);

// The public methods a class's instances have (its prototype chain up to Object).
function methodsOf(cls: { prototype: object }): string[] {
  const names = new Set<string>();
  for (let p: object | null = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (name !== 'constructor' && !name.startsWith('_') && typeof d?.value === 'function') names.add(name);
    }
  }
  return [...names];
}

export class Manager {
  static readonly #types = new Map<string, Registered>();

  /**
   * Registers a class for managers started afterwards (CPython's
   * BaseManager.register): `mgr.create(typeid, ...args)` makes an instance in
   * the server and returns a proxy whose exposed methods are async and Sync.
   * The class must be exported by its module (the server imports it).
   */
  static register(typeid: string, cls: new (...args: never[]) => object, options: RegisterOptions = {}): void {
    if (typeof typeid !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(typeid))
      throw new TypeError(`Manager.register: typeid must be an identifier-like string, got ${describe(typeid)}`);
    if (BUILT_IN.has(typeid)) throw new TypeError(`Manager.register: ${typeid} is a built-in type`);
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['exposed', 'module', 'methodToTypeid'], 'Manager.register');
    const { module, exportName } = resolveExport(cls, options.module, 'the registered class', 'module');
    const exposed = options.exposed === undefined ? methodsOf(cls) : [...options.exposed];
    if (!exposed.every((m) => typeof m === 'string')) throw new TypeError('Manager.register: exposed must be an array of method names');
    const returns = { ...(options.methodToTypeid ?? {}) };
    for (const [m, t] of Object.entries(returns)) {
      if (!exposed.includes(m)) throw new TypeError(`Manager.register: methodToTypeid names ${JSON.stringify(m)}, which is not exposed`);
      if (typeof t !== 'string') throw new TypeError(`Manager.register: methodToTypeid.${m} must be a typeid`);
    }
    Manager.#types.set(typeid, { typeid, module, exportName, exposed, returns });
  }

  /** @internal Forgets a registration (for tests). */
  static _unregister(typeid: string): void {
    Manager.#types.delete(typeid);
  }

  /**
   * A remote manager's proxies, over a socket (Python's BaseManager(address,
   * authkey).connect()): `authkey` defaults to this process's, which a child
   * inherits from the process that started the manager.
   */
  static async connect(address: Address, authkey?: string | Uint8Array, options: ConnectOptions = {}): Promise<RemoteManager> {
    // Given, but undefined: most likely an environment variable that is not set, not a wish for this process's key.

    if (arguments.length >= 2 && authkey === undefined)
      throw new TypeError(
        "Manager.connect: the authkey is undefined (an environment variable that is not set?): leave it out to use this process's authkey",
      );
    return RemoteManager.connect(address, authkey, options);
  }

  readonly #name: string;
  readonly #listen: { address: ResolvedAddress; authkey: Buffer; maxMessageBytes: number; authTimeoutMs: number } | undefined;
  #registered: Registered[] = [];
  #requests: Queue<Request> | undefined;
  #process: Process | undefined;
  #client: Client | undefined;
  #address: ResolvedAddress | null = null;
  #state: 'initial' | 'started' | 'shut down' = 'initial';

  constructor(options: ManagerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['name', 'address', 'authkey', 'maxMessageBytes', 'authTimeout'], 'Manager');
    if (options.name !== undefined && typeof options.name !== 'string')
      throw new TypeError(`options.name must be a string, got ${describe(options.name)}`);
    this.#name = options.name ?? `SyncManager-${++managerNumber}`;
    const limits = checkLimits(options, 'Manager');
    if ('authkey' in options && options.authkey === undefined)
      throw new TypeError(
        "Manager: options.authkey is undefined (an environment variable that is not set?): leave it out to use this process's authkey",
      );
    if (options.address !== undefined) {
      const authkey = options.authkey === undefined ? processAuthkey() : authkeyBytes(options.authkey, 'Manager');
      this.#listen = { address: checkAddress(options.address, 'Manager'), authkey, ...limits };
    } else if (options.authkey !== undefined || options.maxMessageBytes !== undefined || options.authTimeout !== undefined) {
      throw new TypeError('Manager: authkey, maxMessageBytes and authTimeout are for a manager that listens: give an address too');
    }
  }

  /** Starts the server process; resolves once it answers (and listens, if given an address). */
  async start(): Promise<void> {
    if (this.#state === 'started') throw new Error('the manager was started already');
    if (this.#state === 'shut down')
      throw new ManagerGoneError('the manager was shut down: a new Manager() starts another', this.#process?.pid ?? 0);
    const requests = new Queue<Request>();
    const key = randomUUID(); // what proxies name the server by
    this.#registered = [...Manager.#types.values()];
    const server = new Process({
      target: managerServer,
      args: [requests, { key, registered: this.#registered, listen: this.#listen }],
      daemon: true,
      name: this.#name,
      module: SERVER_MODULE,
    });
    server.start();
    this.#requests = requests;
    this.#process = server;
    this.#state = 'started';
    this.#client = connectLocal(key, requests, [server.pid!, addon().threadStampOf(server.pid!)]);
    let status: ServerStatus;
    try {
      status = (await this.#client.call(Op.Ping)) as ServerStatus;
    } catch (e) {
      // It could not start (a registered class's module failed to load, the address is taken ...): why, here.
      await this.shutdown();
      throw e;
    }
    this.#address = status.address;
  }

  #started(what: string): Client {
    if (this.#state === 'initial') throw new Error(`${what}: the manager was not started: await manager.start() first`);
    if (this.#state === 'shut down') throw new ManagerGoneError(`${what}: the manager was shut down`, this.#process!.pid!);
    return this.#client!;
  }

  #make<P>(typeid: Factories, args: unknown[]): P {
    const client = this.#started(`Manager.${typeid}`);
    const [id] = client.callSync(Op.Create, typeid, INIT[typeid](...args)) as [number];
    return makeProxy({ client, id, typeid }) as P;
  }

  /** A new dict in the manager (init: a Map, [key, value] pairs or an object). */
  dict<K = unknown, V = unknown>(init?: Map<K, V> | Iterable<[K, V]> | Record<string, V>): DictProxy<K, V> {
    return this.#make('dict', [init]);
  }

  /** A new list in the manager. */
  list<T = unknown>(init?: Iterable<T>): ListProxy<T> {
    return this.#make('list', [init]);
  }

  /** A new namespace in the manager: an object read and written with plain property access. */
  Namespace(init?: Record<string, unknown>): NamespaceProxy {
    return this.#make('Namespace', [init]);
  }

  /** A queue held by the manager (maxsize 0: no bound), for processes that share no memory. */
  Queue<T = unknown>(maxsize?: number): QueueProxy<T> {
    return this.#make('Queue', [maxsize]);
  }

  JoinableQueue<T = unknown>(maxsize?: number): JoinableQueueProxy<T> {
    return this.#make('JoinableQueue', [maxsize]);
  }

  Lock(): LockProxy {
    return this.#make('Lock', []);
  }

  RLock(): RLockProxy {
    return this.#make('RLock', []);
  }

  Semaphore(value?: number): SemaphoreProxy {
    return this.#make('Semaphore', [value]);
  }

  Event(): EventProxy {
    return this.#make('Event', []);
  }

  /** A condition over `lock` (a Lock or RLock of this manager; default a new RLock). */
  Condition(lock?: LockProxy): ConditionProxy {
    return this.#make('Condition', [lock]);
  }

  Barrier(parties: number): BarrierProxy {
    return this.#make('Barrier', [parties]);
  }

  /** A typed value held by the manager (typecodes as Value's: 'i', 'd', 'int64' ...). */
  Value<C extends Typecode>(typecode: C, value?: ValueOf<C>): ValueProxy<ValueOf<C>> {
    return this.#make('Value', [typecode, value]);
  }

  /** A typed array held by the manager: of `init` values, or of that many zeros. */
  Array<C extends Typecode>(typecode: C, init: number | Iterable<ValueOf<C>>): ArrayProxy<ValueOf<C>> {
    return this.#make('Array', [typecode, init]);
  }

  /** A new instance of a registered class in the manager (`new cls(...args)` in the server); its proxy. */
  create<P = RegisteredProxy>(typeid: string, ...args: unknown[]): P {
    const r = this.#registered.find((t) => t.typeid === typeid);
    const client = this.#started('Manager.create');
    if (!r) {
      throw new TypeError(
        `Manager.create: no type ${JSON.stringify(typeid)} was registered before this manager started (Manager.register(typeid, cls))`,
      );
    }
    const [id] = client.callSync(Op.Create, typeid, args) as [number];
    return makeProxy({ client, id, typeid, methods: r.exposed }) as P;
  }

  /**
   * Names an object of this manager (kept until it shuts down), so that a
   * client that has no proxy of it yet -- a remote one -- finds it with
   * lookup(name). A name published again names the new object.
   */
  publish(name: string, proxy: object): Promise<void> {
    return this.#started('Manager.publish').call(Op.Publish, name, proxy) as Promise<void>;
  }

  /** The object published as `name` (a ReferenceError if none is). */
  async lookup<P = unknown>(name: string): Promise<P> {
    return (await this.#started('Manager.lookup').call(Op.Lookup, name)) as P;
  }

  /** Where the server listens for remote clients (the real port after port 0), or null: it has no address. */
  get address(): ResolvedAddress | null {
    return this.#address ?? this.#listen?.address ?? null;
  }

  /** The key remote clients authenticate with (a copy), or null for a manager without an address. */
  get authkey(): Buffer | null {
    return this.#listen ? Buffer.from(this.#listen.authkey) : null;
  }

  /** The server process's pid (undefined before start()). */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /**
   * Stops the server: asks it to leave, then (each after a second)
   * terminates and kills it. Every proxy of it then fails with
   * ManagerGoneError.
   */
  async shutdown(): Promise<void> {
    if (this.#state !== 'started') {
      this.#state = 'shut down';
      return;
    }
    this.#state = 'shut down';
    const server = this.#process!;
    const client = this.#client!;
    try {
      await Promise.race([client.call(Op.Shutdown), new Promise((r) => setTimeout(r, SHUTDOWN_STEP_MS).unref())]);
    } catch {
      // gone already
    }
    await server.join(SHUTDOWN_STEP_MS);
    if (server.exitCode === null) {
      server.terminate();
      await server.join(SHUTDOWN_STEP_MS);
    }
    if (server.exitCode === null) {
      server.kill();
      await server.join();
    }
    try {
      client.lost('it was shut down');
    } catch {
      // lost() throws the error it records
    }
    discardRequests(this.#requests!);
    letGoNow(this.#requests!);
  }

  /** @internal The server's status (for tests): its objects, refused connections ... */
  async _status(): Promise<ServerStatus> {
    return (await this.#started('Manager._status').call(Op.Ping)) as ServerStatus;
  }

  /** @internal How many objects the server holds (for tests). */
  async _objectCount(): Promise<number> {
    return (await this._status()).objects;
  }

  /** @internal Tells the server now of the proxies this thread dropped (they go in batches). */
  _flushReleases(): void {
    this.#client?.flushReleased();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  get [Symbol.toStringTag](): string {
    return `Manager ${this.#name} (${this.#state})`;
  }

  /** A manager does not travel to other processes: its proxies do. */
  [toHandle](): never {
    throw new TypeError('a Manager cannot be sent to another process: send the proxies it made (mgr.dict(), mgr.Namespace() ...)');
  }
}
