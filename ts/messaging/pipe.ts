// Pipe() and Connection: Python's multiprocessing.Pipe over two queues (one
// per direction; one for a half-duplex pipe). close() ends this end's
// sending side: the other end receives what was sent, then an error with
// code ERR_MP_EOF.
import { registerHandleKind, reopenHandle, toHandle, type HandleData, type Shareable } from '../handles';
import { describe } from '../names';
import { msArgument } from '../sync/options';
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

  async send(obj: unknown): Promise<void> {
    await this.#out().put(obj);
  }

  sendSync(obj: unknown): void {
    this.#out().putSync(obj);
  }

  async sendBytes(buf: Uint8Array): Promise<void> {
    if (!(buf instanceof Uint8Array)) throw new TypeError(`sendBytes() takes a Buffer or Uint8Array, got ${describe(buf)}`);
    const q = this.#out();
    await ringOf!(q).put(buf, true, Infinity, undefined, 'the pipe');
  }

  async recv(): Promise<unknown> {
    try {
      return await this.#in().get();
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' && !this.#closed ? eofError() : e;
    }
  }

  recvSync(): unknown {
    try {
      return this.#in().getSync();
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' && !this.#closed ? eofError() : e;
    }
  }

  /** The next message as bytes (what sendBytes sent; a serialized object otherwise). */
  async recvBytes(): Promise<Buffer> {
    const ring = ringOf!(this.#in());
    try {
      return await ring.get(true, Infinity, undefined, 'the pipe') as Buffer;
    } catch (e) {
      throw (e as { code?: string }).code === 'ERR_MP_CLOSED' ? eofError() : e;
    }
  }

  /** Whether a message can be received now, waiting up to timeoutMs (default 0) for one. Blocks the thread. */
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
