// Pipe() and Connection: Python's multiprocessing.Pipe over two queues (one
// per direction; one for a half-duplex pipe).
//
// close() ends this end in this process, as Python's does for its file
// descriptor: this Connection object sends and receives no more. The other
// end reads EOF (an error with code ERR_MP_EOF, after what was sent) once
// every process that had this end has closed it or died -- the kernel's rule
// for a pipe's write end, which Python code relies on (a parent closes its
// copy of the child's end, then reads until EOF). Who still has an end is
// kept in the queue it sends on (entries.ts: a live thread, or a handle of
// the end in flight to another process).
import { Handoff } from '../base/handoff';
import { inspect } from 'node:util';
import { noteTicket, registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../share/handles';
import { ShutDown, closedError, codedError } from '../base/errors';
import { Entries, placeholder } from '../shm/entries';
import { QUEUE, QUEUE_SENDERS_OVERFLOWED } from '../binding/layout';
import { asyncOptions, msArgument, syncTimeout, type AsyncOptions, type SyncOptions, describe } from '../base/validate';
import { adoptEntry, type SharedState, type Ticket } from '../shm/shared_state';
import { pack, threadIdentity } from '../shm/thread';
import { Queue } from './queue';
import type { Ring } from './ring';

// Connection reaches the ring and state of its queues through Queue._parts.
const partsOf = (q: Queue): { readonly ring: Ring; readonly state: SharedState } => Queue._parts(q);

function eofError(): Error {
  return codedError('ERR_MP_EOF', 'the other end of the pipe is closed (EOF)');
}

function closedConnection(): Error {
  return closedError('the connection is closed');
}

const tables = new WeakMap<SharedState, Entries>();
const senders = (state: SharedState): Entries => {
  let t = tables.get(state);
  if (!t) {
    t = new Entries(state.i32, state.at(QUEUE.senders), QUEUE.senderEntries, QUEUE.senderWords, state.at(QUEUE.senderGiveUps));
    tables.set(state, t);
  }
  return t;
};

// The sending side of a direction: who may still send on a queue.
class Sending {
  readonly queue: Queue;
  readonly #state: SharedState;
  readonly #ring: Ring;
  readonly #table: Entries;
  #entry = -1;

  constructor(queue: Queue, ticket: Ticket | undefined) {
    this.queue = queue;
    ({ state: this.#state, ring: this.#ring } = partsOf(queue));
    this.#table = senders(this.#state);
    const me = threadIdentity();
    if (ticket && ticket.entry >= 0 && adoptEntry(this.#table, ticket, me)) this.#entry = ticket.entry;
    else this.#entry = this.#table.claimOrPurge(me);
    if (this.#entry < 0) this.#overflow();
  }

  #overflow(): void {
    Atomics.or(this.#state.i32, this.#state.at(QUEUE.flags), QUEUE_SENDERS_OVERFLOWED);
  }

  /** A placeholder for a handle of this end leaving the process. */
  ticket(): Ticket | undefined {
    const id = placeholder();
    const entry = this.#table.claimOrPurge(id);
    if (entry < 0) {
      this.#overflow();
      return undefined;
    }
    const t = { entry, id };
    noteTicket({
      drop: () => this.#table.giveUp(t.entry, t.id),
      assign: (pid, stamp) => this.#table.swap(t.entry, t.id, pack(pid, stamp)),
    });
    return t;
  }

  /** This end is closed (or collected) here: when no one else can send, the reader gets EOF. */
  letGo(): void {
    if (this.#entry >= 0) this.#table.giveUp(this.#entry);
    this.#entry = -1;
    endIfNoSenders(this.#state, this.#ring);
  }
}

/** Shuts the direction down (EOF for its reader) once no live sender and no handle in flight is left. */
function endIfNoSenders(state: SharedState, ring: Ring): void {
  if (ring.isShutDown || (Atomics.load(state.i32, state.at(QUEUE.flags)) & QUEUE_SENDERS_OVERFLOWED) !== 0) return;
  if (senders(state).empty()) ring.shutdown(false);
}

const collected = new FinalizationRegistry<Sending>((sending) => {
  try {
    sending.letGo();
  } catch {
    // the segment went away first: nothing left to tell
  }
});

const revived = new Handoff<{ incoming: Queue | null; outgoing: Queue | null; ticket: Ticket | undefined }>();

/**
 * One end of a Pipe. T is what travels through it (both ways: Pipe<T>() makes
 * two Connection<T>); it is a promise of the program, not checked at run time.
 */
export class Connection<T = unknown> implements Shareable {
  readonly #incoming: Queue | null;
  readonly #sending: Sending | null;
  #closed = false;

  /** @internal made by Pipe() */
  constructor(incoming: Queue | null, outgoing: Queue | null) {
    let ticket: Ticket | undefined;
    const revival = revived.take();
    if (revival) {
      ({ incoming, outgoing, ticket } = revival);
    }
    this.#incoming = incoming;
    this.#sending = outgoing ? new Sending(outgoing, ticket) : null;
    if (this.#sending) collected.register(this, this.#sending, this.#sending);
  }

  get readable(): boolean {
    return this.#incoming !== null;
  }

  get writable(): boolean {
    return this.#sending !== null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #out(): Queue {
    if (this.#closed) throw closedConnection();
    if (!this.#sending) throw new Error('this end of a one-way pipe cannot send');
    return this.#sending.queue;
  }

  #in(): Queue {
    if (this.#closed) throw closedConnection();
    if (!this.#incoming) throw new Error('this end of a one-way pipe cannot receive');
    return this.#incoming;
  }

  // While a receive waits: has every sender of the other end gone?
  #idle = (): void => {
    if (!this.#incoming) return;
    const { state, ring } = partsOf(this.#incoming);
    endIfNoSenders(state, ring);
  };

  #eof(e: unknown): unknown {
    return e instanceof ShutDown ? eofError() : e;
  }

  // Every send and receive takes the options of Queue's forms: async ones a
  // timeout (Full/Empty when it runs out) and an AbortSignal, sync ones
  // block/timeout. The pipe's queues are unbounded, so sends wait only when
  // the ring's bytes are all in use.

  async send(obj: T, options?: AsyncOptions | number): Promise<void> {
    await this.#out().put(obj, options);
  }

  sendSync(obj: T, options?: SyncOptions | number): void {
    this.#out().putSync(obj, options);
  }

  /** Sends the bytes of any ArrayBufferView (Buffer, Uint8Array, Float64Array, DataView, ...) as they are. */
  async sendBytes(buf: ArrayBufferView, options?: AsyncOptions | number): Promise<void> {
    if (!ArrayBuffer.isView(buf)) throw new TypeError(`sendBytes() takes a Buffer, TypedArray or DataView, got ${describe(buf)}`);
    const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const { timeout, signal } = asyncOptions(options, 'sendBytes');
    await partsOf(this.#out()).ring.put(bytes, true, timeout, signal);
  }

  async recv(options?: AsyncOptions | number): Promise<T> {
    const q = this.#in();
    const { timeout, signal } = asyncOptions(options, 'recv');
    try {
      return (await partsOf(q).ring.get(timeout, signal, { onIdle: this.#idle })) as T;
    } catch (e) {
      throw this.#eof(e);
    }
  }

  recvSync(options?: SyncOptions | number): T {
    const q = this.#in();
    const timeout = syncTimeout(options, 'recvSync');
    try {
      return partsOf(q).ring.getSync(timeout, { onIdle: this.#idle }) as T;
    } catch (e) {
      throw this.#eof(e);
    }
  }

  /**
   * The next message as bytes: what sendBytes sent, or for anything sent
   * with send(), what serialize() writes (read it with deserialize()).
   */
  async recvBytes(options?: AsyncOptions | number): Promise<Buffer> {
    const { timeout, signal } = asyncOptions(options, 'recvBytes');
    const ring = partsOf(this.#in()).ring;
    try {
      return (await ring.get(timeout, signal, { raw: true, onIdle: this.#idle })) as Buffer;
    } catch (e) {
      throw this.#eof(e);
    }
  }

  /**
   * Whether recv() would return now, without waiting: a message is there, or
   * the other end has closed (recv then throws EOF). Waits up to timeoutMs
   * (default 0) for that, blocking the thread.
   */
  poll(timeoutMs = 0): boolean {
    const ring = partsOf(this.#in()).ring;
    this.#idle();
    return ring.pollSync(msArgument(timeoutMs), this.#idle);
  }

  /** Ends this end in this process; the other end reads EOF once no process has this end open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sending) {
      collected.unregister(this.#sending);
      this.#sending.letGo();
    }
  }

  [toHandle](): HandleData {
    if (this.#closed) throw closedConnection();
    return {
      kind: 'Connection',
      incoming: this.#incoming ? this.#incoming[toHandle]() : null,
      outgoing: this.#sending ? this.#sending.queue[toHandle]() : null,
      sender: this.#sending?.ticket(),
    };
  }

  get [Symbol.toStringTag](): string {
    return 'Connection';
  }

  [inspect.custom](): string {
    const how = this.#closed ? 'closed' : this.#incoming && this.#sending ? 'duplex' : this.#incoming ? 'receive-only' : 'send-only';
    return `Connection { ${how} }`;
  }
}

/**
 * Two connected ends. duplex (default true): both send and receive; false:
 * [receive-only, send-only]. `Pipe<T>()` types what they carry.
 */
export function Pipe<T = unknown>(duplex = true): [Connection<T>, Connection<T>] {
  if (typeof duplex !== 'boolean') throw new TypeError(`duplex must be a boolean, got ${describe(duplex)}`);
  const aToB = new Queue<T>();
  if (!duplex) return [new Connection(aToB, null), new Connection(null, aToB)];
  const bToA = new Queue<T>();
  return [new Connection(bToA, aToB), new Connection(aToB, bToA)];
}

registerHandleKind('Connection', (data) => {
  return revived.give(
    {
      incoming: data.incoming ? (reopenHandle(data.incoming as HandleData) as Queue) : null,
      outgoing: data.outgoing ? (reopenHandle(data.outgoing as HandleData) as Queue) : null,
      ticket: data.sender as Ticket | undefined,
    },
    () => new Connection(null, null),
  );
});
