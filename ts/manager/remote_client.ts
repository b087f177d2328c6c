// A connection to a remote manager: a socket (TCP or Unix), the handshake
// (auth.ts), then requests out and answers in as frames (frames.ts), each
// the same arrays as on the local queues (wire.ts). Calls are async only: a
// socket cannot be read without the event loop. Requests made before the
// handshake ends wait for it; when the connection fails, every call fails
// with ManagerGoneError (or, for a refused key, AuthenticationError).
import net from 'node:net';
import { AuthenticationError, ManagerGoneError } from '../base/errors';
import { processAuthkey } from '../base/identity';
import { fromWire, type WireError } from '../base/remote_error';
import type { Shareable } from '../share/handles';
import { AUTH_FRAME, answerChallenge, deliverChallenge } from './auth';
import { FrameError, Framed, HEADER, KEEPALIVE_MS } from './frames';
import { decodeMessage, encodeMessage } from './wire';
import { Releases } from './releases';
import { Op, Status, type Answer, type CallOp, type Connection, type RemoteWhere, type TellOp } from './protocol';
import { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_MESSAGE } from './inits';
import { refOf } from './proxies';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

// Only a manager's proxies can be sent to it: shared-memory objects live on one machine.
const onlyProxies = (v: Shareable): string | undefined =>
  refOf(v) !== undefined
    ? undefined
    : "which lives in this machine's shared memory: a remote manager cannot hold it (use one the manager holds: mgr.Queue(), mgr.Lock() ...)";

const shared = new Map<string, RemoteClient>(); // `${address}|${key}` -> the connection proxies of handles use

export function describeAddress(address: RemoteWhere['address']): string {
  return 'path' in address ? address.path : `${address.host}:${address.port}`;
}

export class RemoteClient implements Connection {
  /** The connection whose answer is being read (a ref in it is of this connection's server). */
  static decoding: RemoteClient | undefined;

  key: string;
  serverPid = 0;
  remote: RemoteWhere;
  readonly ready: Promise<void>;
  readonly #framed: Framed;
  readonly #waiting = new Map<number, Waiter>();
  readonly #queued: Buffer[] = [];
  #maxMessage: number;
  readonly #authTimeoutMs: number;
  #nextCall = 1;
  #open = false;
  #gone: Error | undefined;
  readonly #released = new Releases((ids) => this.tell(Op.Release, ids));

  /** The connection proxies received from elsewhere use for the manager at `where` (made on first use). */
  static shared(where: RemoteWhere, key: string): RemoteClient {
    const id = `${describeAddress(where.address)}|${key}`;
    let client = shared.get(id);
    if (!client || client.#gone) {
      client = new RemoteClient(where, key, {
        maxMessageBytes: where.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
        authTimeoutMs: DEFAULT_AUTH_TIMEOUT_MS,
      });
      client.ready.catch(() => {}); // its calls say why
      shared.set(id, client);
    }
    return client;
  }

  constructor(where: RemoteWhere, key: string, limits: { maxMessageBytes: number; authTimeoutMs: number }) {
    this.remote = where;
    this.key = key;
    this.#maxMessage = limits.maxMessageBytes;
    this.#authTimeoutMs = limits.authTimeoutMs;
    const socket = 'path' in where.address ? net.connect(where.address.path) : net.connect(where.address.port, where.address.host);
    socket.setNoDelay(true);
    // A server host that vanishes (a crash, a cut network) is noticed by TCP keepalive: calls then fail.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.#framed = new Framed(socket, AUTH_FRAME);
    socket.on('close', () => this.#lost(this.#framed.failed ?? new Error('the connection closed')));
    // An idle connection does not keep the program alive; a waiting call does (#hold).
    socket.unref();
    this.ready = this.#handshake(where.authkey === undefined ? processAuthkey() : Buffer.from(where.authkey, 'hex'));
  }

  async #handshake(authkey: Buffer): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection within ${this.#authTimeoutMs} ms`)), this.#authTimeoutMs);
        this.#framed.socket.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        this.#framed.socket.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      await answerChallenge(this.#framed, authkey, 'client', this.#authTimeoutMs);
      await deliverChallenge(this.#framed, authkey, 'server', this.#authTimeoutMs);
    } catch (e) {
      const at = describeAddress(this.remote.address);
      const error =
        e instanceof AuthenticationError
          ? e
          : e instanceof FrameError && /over the limit/.test(e.message)
            ? new AuthenticationError(`the peer at ${at} is not a multiproc manager (${e.message})`)
            : new ManagerGoneError(`cannot reach the manager at ${at}: ${(e as Error).message}`, 0, { cause: e });
      this.#lost(error);
      this.#framed.socket.destroy();
      throw error;
    }
    this.#framed.limit = this.#maxMessage;
    this.#framed.onFrame((frame) => this.#answered(frame));
    this.#open = true;
    // First, the largest answer this side takes: the server fails a larger one's call instead of sending it.
    this.#framed.sendFramed(encodeMessage([Op.Hello, 0, 0, this.#maxMessage], HEADER, 'the hello'));
    for (const bytes of this.#queued.splice(0)) this.#framed.sendFramed(bytes);
  }

  // Holds the program open while some call waits for its answer.
  #hold(): void {
    if (this.#waiting.size === 1) this.#framed.socket.ref();
  }

  #unhold(): void {
    if (this.#waiting.size === 0) this.#framed.socket.unref();
  }

  #lost(why: Error, destroy = true): void {
    if (this.#gone) return;
    this.#gone =
      why instanceof AuthenticationError || why instanceof ManagerGoneError
        ? why
        : new ManagerGoneError(`the manager at ${describeAddress(this.remote.address)} is gone: ${why.message}`, this.serverPid);
    for (const w of this.#waiting.values()) w.reject(this.#gone);
    this.#waiting.clear();
    this.#framed.socket.unref();
    if (destroy) this.#framed.socket.destroy();
  }

  #send(request: unknown[]): void {
    if (this.#gone) throw this.#gone;
    const bytes = encodeMessage(request, HEADER, 'the request', onlyProxies);
    if (bytes.length - HEADER > this.#maxMessage) {
      throw Object.assign(new RangeError(`the request is ${bytes.length - HEADER} bytes, over maxMessageBytes (${this.#maxMessage})`), {
        code: 'ERR_MP_MESSAGE_TOO_LARGE',
      });
    }
    if (this.#open) this.#framed.sendFramed(bytes);
    else this.#queued.push(bytes);
  }

  #answered(frame: Buffer): void {
    let answer: Answer;
    RemoteClient.decoding = this;
    try {
      answer = decodeMessage(frame) as Answer;
    } catch (e) {
      this.#lost(new Error(`it sent an answer that cannot be read: ${(e as Error).message}`));
      return;
    } finally {
      RemoteClient.decoding = undefined;
    }
    if (
      !Array.isArray(answer) ||
      answer.length !== 3 ||
      !Number.isInteger(answer[0]) ||
      ![Status.Ok, Status.Threw, Status.Void].includes(answer[1])
    ) {
      this.#lost(new Error('it sent a message that is not an answer'));
      return;
    }
    const [call, status, value] = answer;
    const waiter = this.#waiting.get(call);
    if (!waiter) return;
    this.#waiting.delete(call);
    this.#unhold();
    if (status === Status.Ok) waiter.resolve(value);
    else if (status === Status.Void) waiter.resolve(undefined);
    else waiter.reject(fromWire(value as WireError, `the manager at ${describeAddress(this.remote.address)}`));
  }

  call(op: CallOp, ...operands: unknown[]): Promise<unknown> {
    try {
      const call = this.#nextCall++;
      this.#send([op, 0, call, ...operands]);
      const answered = new Promise<unknown>((resolve, reject) => this.#waiting.set(call, { resolve, reject }));
      this.#hold();
      return answered;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  callSync(): never {
    throw new TypeError(
      `a proxy of a remote manager (${describeAddress(this.remote.address)}) has no Sync methods: its calls travel over a socket, await the async form`,
    );
  }

  tell(op: TellOp, ids: number[]): void {
    if (this.#gone || ids.length === 0) return;
    this.#send([op, 0, 0, ids]);
  }

  released(id: number): void {
    if (!this.#gone) this.#released.add(id);
  }

  flushReleased(): void {
    this.#released.flush();
  }

  /** The server takes messages of at most `bytes`: larger requests fail before they are sent. */
  serverTakes(bytes: number): void {
    this.#maxMessage = Math.min(this.#maxMessage, bytes);
    this.remote = { ...this.remote, maxMessageBytes: bytes };
  }

  local(): undefined {
    return undefined;
  }

  /**
   * Closes the connection once the server has dropped what it held for it
   * (its waits, its locks): resolves then. Calls fail from now on.
   */
  async close(): Promise<void> {
    if (this.#gone) return;
    this.flushReleased();
    const pending = [...this.#waiting.values()];
    this.#waiting.clear();
    const closed = new ManagerGoneError('the connection to the manager was closed', this.serverPid);
    for (const w of pending) w.reject(closed);
    try {
      await this.call(Op.Bye);
    } catch {
      // gone already
    }
    this.#lost(closed, false);
    this.#framed.socket.end();
  }

  get gone(): Error | undefined {
    return this.#gone;
  }
}
