// Pipe() and Connection: Python's multiprocessing.Pipe over two queues (one
// per direction; one for a half-duplex pipe). close() ends this end's
// sending side: the other end receives what was sent, then an error with
// code ERR_MP_EOF.
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../handles';
import { describe } from '../names';
import { asyncOptions, msArgument, type AsyncOptions, type SyncOptions } from '../sync/options';
import { Queue } from './queue';

// Connection reaches the rings of its queues through this accessor, which
// queue.ts does not export publicly.
type RingOf = (q: Queue) => import('./ring').Ring;
let ringOf: RingOf | undefined;
/** @internal */
export function setRingAccessor(f: RingOf): void {
  ringOf = f;
}

function eofError(): Error {
  return Object.assign(new Error('the other end of the pipe is closed (EOF)'), { code: 'ERR_MP_EOF' });
}

let revived: { incoming: Queue | null; outgoing: Queue | null } | undefined;

export class Connection implements Shareable {
  readonly #incoming: Queue | null;
  readonly #outgoing: Queue | null;
  #closed = false;

  /** @internal made by Pipe() */
  constructor(incoming: Queue | null, outgoing: Queue | null) {
    if (revived) {
      ({ incoming, outgoing } = revived);
      revived = undefined;
    }
    this.#incoming = incoming;
    this.#outgoing = outgoing;
  }

  get readable(): boolean {
    return this.#incoming !== null;
  }

  get writable(): boolean {
    return this.#outgoing !== null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #out(): Queue {
    if (this.#closed) throw Object.assign(new Error('the connection is closed'), { code: 'ERR_MP_CLOSED' });
    if (!this.#outgoing) throw new Error('this end of a one-way pipe cannot send');
    return this.#outgoing;
  }

  #in(): Queue {
    if (this.#closed) throw Object.assign(new Error('the connection is closed'), { code: 'ERR_MP_CLOSED' });
    if (!this.#incoming) throw new Error('this end of a one-way pipe cannot receive');
    return this.#incoming;
  }

  // Every send and receive takes the options of Queue's forms: async ones a
  // timeout (Full/Empty when it runs out) and an AbortSignal, sync ones
  // block/timeout. The pipe's queues are unbounded, so sends wait only when
  // the ring's bytes are all in use.

  async send(obj: unknown, options?: AsyncOptions): Promise<void> {
    await this.#out().put(obj, options);
  }

  sendSync(obj: unknown, options?: SyncOptions): void {
    this.#out().putSync(obj, options);
  }

  async sendBytes(buf: Uint8Array, options?: AsyncOptions): Promise<void> {
    if (!(buf instanceof Uint8Array)) throw new TypeError(`sendBytes() takes a Buffer or Uint8Array, got ${describe(buf)}`);
    const { timeout, signal } = asyncOptions(options, 'sendBytes');
    await ringOf!(this.#out()).put(buf, true, timeout, signal, 'the pipe');
  }

  async recv(options?: AsyncOptions): Promise<unknown> {
    try {
      return await this.#in().get(options);
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' && !this.#closed ? eofError() : e;
    }
  }

  recvSync(options?: SyncOptions): unknown {
    try {
      return this.#in().getSync(options);
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' && !this.#closed ? eofError() : e;
    }
  }

  /**
   * The next message as bytes: what sendBytes sent, or for anything sent
   * with send(), what serialize() writes (read it with deserialize()).
   */
  async recvBytes(options?: AsyncOptions): Promise<Buffer> {
    const { timeout, signal } = asyncOptions(options, 'recvBytes');
    const ring = ringOf!(this.#in());
    try {
      return await ring.get(true, timeout, signal, 'the pipe') as Buffer;
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' ? eofError() : e;
    }
  }

  /**
   * Whether recv() would return now, without waiting: a message is there, or
   * the other end has closed (recv then throws EOF). Waits up to timeoutMs
   * (default 0) for that, blocking the thread.
   */
  poll(timeoutMs = 0): boolean {
    return ringOf!(this.#in()).pollSync(msArgument(timeoutMs));
  }

  /** Ends this end: the other end receives what was sent, then EOF. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outgoing?.close();
  }

  [toHandle](): HandleData {
    return {
      kind: 'Connection',
      incoming: this.#incoming ? this.#incoming[toHandle]() : null,
      outgoing: this.#outgoing ? this.#outgoing[toHandle]() : null,
    };
  }

  get [Symbol.toStringTag](): string {
    return 'Connection';
  }
}

/** Two connected ends. duplex (default true): both send and receive; false: [receive-only, send-only]. */
export function Pipe(duplex = true): [Connection, Connection] {
  if (typeof duplex !== 'boolean') throw new TypeError(`duplex must be a boolean, got ${describe(duplex)}`);
  const aToB = new Queue();
  if (!duplex) return [new Connection(aToB, null), new Connection(null, aToB)];
  const bToA = new Queue();
  return [new Connection(bToA, aToB), new Connection(aToB, bToA)];
}

registerHandleKind('Connection', (data) => {
  revived = {
    incoming: data.incoming ? (reopenHandle(data.incoming as HandleData) as Queue) : null,
    outgoing: data.outgoing ? (reopenHandle(data.outgoing as HandleData) as Queue) : null,
  };
  return new Connection(null, null);
});
