// A remote manager, as a client sees it (Manager.connect): the same
// factories as a Manager, async (each is a round trip over the socket), and
// proxies whose methods are async only.
import { processAuthkey } from '../base/identity';
import { checkKeys, describe } from '../base/validate';
import type { Typecode, ValueOf } from '../values/typecodes';
import { authkeyBytes } from './auth';
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
import { INIT, checkAddress, checkLimits, type Factories, type Limits } from './inits';
import type { Address, ResolvedAddress } from './listener';
import { makeProxy } from './make_proxy';
import { Op } from './protocol';
import type { AsyncNamespaceProxy, DictProxy, ListProxy, RegisteredProxy } from './proxies';
import { RemoteClient, describeAddress } from './remote_client';
import type { ServerStatus } from './server';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConnectOptions extends Limits {}

export class RemoteManager {
  readonly #client: RemoteClient;
  readonly #address: ResolvedAddress;

  private constructor(client: RemoteClient, address: ResolvedAddress) {
    this.#client = client;
    this.#address = address;
  }

  /** Connects and authenticates (AuthenticationError for a wrong key, ManagerGoneError if nothing answers). */
  static async connect(address: Address, authkey?: string | Uint8Array, options: ConnectOptions = {}): Promise<RemoteManager> {
    const where = checkAddress(address, 'Manager.connect');
    const key = authkey === undefined ? processAuthkey() : authkeyBytes(authkey, 'Manager.connect');
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, ['maxMessageBytes', 'authTimeout'], 'Manager.connect');
    const client = new RemoteClient({ address: where, authkey: key.toString('hex') }, '', checkLimits(options, 'Manager.connect'));
    await client.ready;
    const status = (await client.call(Op.Ping)) as ServerStatus;
    client.key = status.key;
    client.serverPid = status.pid;
    if (status.maxMessageBytes !== null) client.serverTakes(status.maxMessageBytes);
    return new RemoteManager(client, where);
  }

  async #make<P>(typeid: Factories, args: unknown[]): Promise<P> {
    const [id] = (await this.#client.call(Op.Create, typeid, INIT[typeid](...args))) as [number];
    return makeProxy({ client: this.#client, id, typeid }) as P;
  }

  dict<K = unknown, V = unknown>(init?: Map<K, V> | Iterable<[K, V]> | Record<string, V>): Promise<DictProxy<K, V>> {
    return this.#make('dict', [init]);
  }

  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return this.#make('list', [init]);
  }

  /** A namespace: from a remote client, read and written with `await ns.get(name)` / `ns.set(name, v)`. */
  Namespace(init?: Record<string, unknown>): Promise<AsyncNamespaceProxy> {
    return this.#make('Namespace', [init]);
  }

  Queue<T = unknown>(maxsize?: number): Promise<QueueProxy<T>> {
    return this.#make('Queue', [maxsize]);
  }

  JoinableQueue<T = unknown>(maxsize?: number): Promise<JoinableQueueProxy<T>> {
    return this.#make('JoinableQueue', [maxsize]);
  }

  Lock(): Promise<LockProxy> {
    return this.#make('Lock', []);
  }

  RLock(): Promise<RLockProxy> {
    return this.#make('RLock', []);
  }

  Semaphore(value?: number): Promise<SemaphoreProxy> {
    return this.#make('Semaphore', [value]);
  }

  Event(): Promise<EventProxy> {
    return this.#make('Event', []);
  }

  Condition(lock?: LockProxy): Promise<ConditionProxy> {
    return this.#make('Condition', [lock]);
  }

  Barrier(parties: number): Promise<BarrierProxy> {
    return this.#make('Barrier', [parties]);
  }

  Value<C extends Typecode>(typecode: C, value?: ValueOf<C>): Promise<ValueProxy<ValueOf<C>>> {
    return this.#make('Value', [typecode, value]);
  }

  Array<C extends Typecode>(typecode: C, init: number | Iterable<ValueOf<C>>): Promise<ArrayProxy<ValueOf<C>>> {
    return this.#make('Array', [typecode, init]);
  }

  /** A new instance of a class registered with the manager's server; its proxy. */
  async create<P = RegisteredProxy>(typeid: string, ...args: unknown[]): Promise<P> {
    if (typeof typeid !== 'string') throw new TypeError(`RemoteManager.create: typeid must be a string, got ${describe(typeid)}`);
    if (Object.prototype.hasOwnProperty.call(INIT, typeid))
      throw new TypeError(`RemoteManager.create: ${typeid} is a built-in type: use its own factory`);
    const [id, methods] = (await this.#client.call(Op.Create, typeid, args)) as [number, string[] | null];
    return makeProxy({ client: this.#client, id, typeid, methods: methods ?? undefined }) as P;
  }

  /** Names an object of the manager (see Manager.publish). */
  publish(name: string, proxy: object): Promise<void> {
    return this.#client.call(Op.Publish, name, proxy) as Promise<void>;
  }

  /** The object published as `name` (a ReferenceError if none is). */
  async lookup<P = unknown>(name: string): Promise<P> {
    return (await this.#client.call(Op.Lookup, name)) as P;
  }

  get address(): ResolvedAddress {
    return { ...this.#address };
  }

  /** The server process's pid. */
  get pid(): number {
    return this.#client.serverPid;
  }

  /**
   * Closes this connection (the server drops what only it held); the server
   * goes on: only the process that started it shuts it down.
   */
  close(): Promise<void> {
    return this.#client.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  get [Symbol.toStringTag](): string {
    return `RemoteManager ${describeAddress(this.#address)}`;
  }
}
