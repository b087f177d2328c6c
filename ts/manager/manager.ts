// A manager (Python's multiprocessing.Manager()): a server process that
// holds ordinary JS objects -- dicts, lists, namespaces -- which any process
// given one of their proxies reads and changes. Requests and answers travel
// on shared-memory queues (protocol.ts); the server runs them one at a time.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addon } from '../binding/addon';
import { ManagerGoneError } from '../base/errors';
import { resolveExport } from '../base/modules';
import { checkKeys, describe, isIterable } from '../base/validate';
import { Queue } from '../messaging/queue';
import { Process } from '../process/process';
import { toHandle } from '../share/handles';
import { letGoNow } from '../shm/holds';
import { discardRequests, type Client } from './client';
import { Op, type Request } from './protocol';
import { connect, makeProxy, type DictProxy, type ListProxy, type NamespaceProxy, type RegisteredProxy } from './proxies';
import type { Registered } from './types';
import { managerServer } from './server';

const SERVER_MODULE = pathToFileURL(path.join(__dirname, 'server.js')).href;
// shutdown(): how long the server has to leave after each step (answer, SIGTERM) before the next.
const SHUTDOWN_STEP_MS = 1000;

let managerNumber = 0;

export interface ManagerOptions {
  /** The server process's name (default SyncManager-N). */
  name?: string;
}

export interface RegisterOptions {
  /** The methods proxies may call (default: the public methods of the class's prototype chain). */
  exposed?: readonly string[];
  /** The module that exports the class, if not the main script. */
  module?: string | URL;
  /** Methods whose result the manager keeps as an object of another registered type, answering with its proxy (CPython's method_to_typeid). */
  methodToTypeid?: Readonly<Record<string, string>>;
}

const BUILT_IN = new Set(['dict', 'list', 'Namespace']);

// An iterable init (a Set, a generator) read into an array; a string stays itself (and is refused as an init).
const spread = (init: unknown): unknown => (isIterable(init) && typeof init !== 'string' ? [...init] : init);

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

  readonly #name: string;
  #registered: Registered[] = [];
  #requests: Queue<Request> | undefined;
  #process: Process | undefined;
  #client: Client | undefined;
  #state: 'initial' | 'started' | 'shut down' = 'initial';

  constructor(options: ManagerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['name'], 'Manager');
    if (options.name !== undefined && typeof options.name !== 'string')
      throw new TypeError(`options.name must be a string, got ${describe(options.name)}`);
    this.#name = options.name ?? `SyncManager-${++managerNumber}`;
  }

  /** Starts the server process; resolves once it answers. */
  async start(): Promise<void> {
    if (this.#state === 'started') throw new Error('the manager was started already');
    if (this.#state === 'shut down')
      throw new ManagerGoneError('the manager was shut down: a new Manager() starts another', this.#process?.pid ?? 0);
    const requests = new Queue<Request>();
    const key = randomUUID(); // what proxies name the server by
    this.#registered = [...Manager.#types.values()];
    const server = new Process({
      target: managerServer,
      args: [requests, { key, registered: this.#registered }],
      daemon: true,
      name: this.#name,
      module: SERVER_MODULE,
    });
    server.start();
    this.#requests = requests;
    this.#process = server;
    this.#state = 'started';
    this.#client = connect(key, requests, [server.pid!, addon().threadStampOf(server.pid!)]);
    await this.#client.call(Op.Ping);
  }

  #started(what: string): Client {
    if (this.#state === 'initial') throw new Error(`${what}: the manager was not started: await manager.start() first`);
    if (this.#state === 'shut down') throw new ManagerGoneError(`${what}: the manager was shut down`, this.#process!.pid!);
    return this.#client!;
  }

  #create(typeid: string, init: unknown, what: string): object {
    const client = this.#started(what);
    const id = client.callSync(Op.Create, typeid, init) as number;
    return makeProxy({ client, id, typeid });
  }

  /** A new dict in the manager (init: a Map, [key, value] pairs or an object). */
  dict<K = unknown, V = unknown>(init?: Map<K, V> | Iterable<[K, V]> | Record<string, V>): DictProxy<K, V> {
    const entries = init === undefined || init instanceof Map || Array.isArray(init) ? init : spread(init);
    return this.#create('dict', entries, 'Manager.dict') as DictProxy<K, V>;
  }

  /** A new list in the manager. */
  list<T = unknown>(init?: Iterable<T>): ListProxy<T> {
    const items = init === undefined || Array.isArray(init) ? init : spread(init);
    return this.#create('list', items, 'Manager.list') as ListProxy<T>;
  }

  /** A new namespace in the manager: an object read and written with plain property access. */
  Namespace(init?: Record<string, unknown>): NamespaceProxy {
    return this.#create('Namespace', init, 'Manager.Namespace') as NamespaceProxy;
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
    const id = client.callSync(Op.Create, typeid, args) as number;
    return makeProxy({ client, id, typeid, methods: r.exposed }) as P;
  }

  /** Where the server listens: null for a local manager (its proxies use shared memory). */
  get address(): null {
    return null;
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

  /** @internal How many objects the server holds (for tests). */
  async _objectCount(): Promise<number> {
    return (await this.#started('Manager._objectCount').call(Op.Ping)) as number;
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
