// This thread's connection to one manager's server: the server's request
// queue, a reply queue of its own, and the calls waiting for answers. A
// blocking call reads the reply queue itself (answers of other calls it
// meets are handed to them in the same step); async calls are answered by a
// reader that runs only while some are waiting, so an idle connection does
// not keep the program alive.
import { ManagerGoneError } from '../base/errors';
import { Empty, Full } from '../base/errors';
import { fromWire, type WireError } from '../base/remote_error';
import { Queue } from '../messaging/queue';
import { letGoNow } from '../shm/holds';
import { identityAlive, pack, threadId, threadIdentity } from '../shm/thread';
import { Releases } from './releases';
import { Op, Status, type Answer, type CallOp, type Connection, type Request, type TellOp } from './protocol';

// A waiting call looks at the server's life between slices.
const SLICE_MS = 20;
interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

const clients = new Map<string, Client>();

export class Client implements Connection {
  readonly key: string;
  readonly requests: Queue<Request>;
  readonly serverPid: number;
  readonly remote = undefined;
  readonly #process: [number, number];
  readonly #server: bigint;
  readonly #id = threadId();
  readonly #reply = new Queue<Answer>();
  readonly #waiting = new Map<number, Waiter>();
  #nextCall = 1;
  #reading = false;
  #gone: ManagerGoneError | undefined;
  readonly #released = new Releases((ids) => this.tell(Op.Release, ids));

  /** This thread's connection to the server `key` (made on first use). */
  static for(key: string, requests: Queue<Request>, serverProcess: [number, number]): Client {
    let client = clients.get(key);
    if (!client) {
      client = new Client(key, requests, serverProcess);
      clients.set(key, client);
    }
    return client;
  }

  /** The connection to `key`, if this thread has one. */
  static known(key: string): Client | undefined {
    return clients.get(key);
  }

  private constructor(key: string, requests: Queue<Request>, [pid, stamp]: [number, number]) {
    this.key = key;
    this.requests = requests;
    this.serverPid = pid;
    this.#process = [pid, stamp];
    this.#server = pack(pid, stamp);
    // A proxy of a manager that is gone still arrives: its calls fail.
    if (!identityAlive(this.#server)) {
      this.#markGone('its process exited');
      return;
    }
    this.#put([Op.Hello, this.#id, 0, this.#reply, threadIdentity().toString()]);
  }

  /**
   * The server's process is gone (or was told to leave): why calls fail.
   * Reading its life costs a /proc read: done between slices of a wait,
   * not per call (a call to a server just gone fails at its first slice).
   */
  #check(): void {
    if (this.#gone) throw this.#gone;
    if (!identityAlive(this.#server)) this.lost('its process exited');
  }

  /** From now on every call fails with ManagerGoneError (the server is gone: `why`); throws it. */
  lost(why: string): never {
    this.#markGone(why);
    throw this.#gone!;
  }

  #markGone(why: string): void {
    if (!this.#gone) {
      this.#gone = new ManagerGoneError(`the manager (pid ${this.serverPid}) is gone: ${why}`, this.serverPid);
      for (const waiter of this.#waiting.values()) waiter.reject(this.#gone);
      this.#waiting.clear();
      clients.delete(this.key);
      this.#reply.close();
      letGoNow(this.#reply);
      discardRequests(this.requests);
    }
  }

  // Puts a request, waiting for room in slices (the server answers into a
  // backlog, so it keeps reading): between them, whether it is still there.
  #put(request: Request): void {
    for (;;) {
      try {
        this.requests.putSync(request, SLICE_MS);
        return;
      } catch (e) {
        if (this.#gone) throw this.#gone;
        if (!identityAlive(this.#server)) this.lost('its process exited');
        if (!(e instanceof Full)) throw e;
      }
    }
  }

  local(): { requests: Queue<Request>; process: [number, number] } {
    return { requests: this.requests, process: this.#process };
  }

  /** Sends a request without waiting (Release, Send, Adopt, Unsend). */
  tell(op: TellOp, ids: number[]): void {
    if (this.#gone || ids.length === 0) return;
    this.#put([op, this.#id, 0, ids]);
  }

  /** A proxy of `id` was dropped (collected): told to the server in a batch. */
  released(id: number): void {
    if (!this.#gone) this.#released.add(id);
  }

  flushReleased(): void {
    this.#released.flush();
  }

  /** Makes a request that wants an answer and blocks this thread until it comes. */
  callSync(op: CallOp, ...operands: unknown[]): unknown {
    if (this.#gone) throw this.#gone;
    const call = this.#nextCall++;
    this.#put([op, this.#id, call, ...operands] as unknown as Request);
    for (;;) {
      let answer: Answer;
      try {
        answer = this.#reply.getSync(SLICE_MS);
      } catch (e) {
        if (!(e instanceof Empty)) throw e;
        this.#check();
        continue;
      }
      if (answer[0] === call) return this.#outcome(answer);
      this.#deliver(answer);
    }
  }

  /** Makes a request that wants an answer; resolves with it. */
  call(op: CallOp, ...operands: unknown[]): Promise<unknown> {
    try {
      if (this.#gone) throw this.#gone;
      const call = this.#nextCall++;
      this.#put([op, this.#id, call, ...operands] as unknown as Request);
      const answered = new Promise<unknown>((resolve, reject) => this.#waiting.set(call, { resolve, reject }));
      void this.#read();
      return answered;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #outcome([, status, value]: Answer): unknown {
    if (status === Status.Ok) return value;
    if (status === Status.Void) return undefined;
    throw fromWire(value as WireError, `the manager, pid ${this.serverPid}`);
  }

  #deliver(answer: Answer): void {
    const waiter = this.#waiting.get(answer[0]);
    if (!waiter) return;
    this.#waiting.delete(answer[0]);
    try {
      waiter.resolve(this.#outcome(answer));
    } catch (e) {
      waiter.reject(e as Error);
    }
  }

  // Reads answers while async calls wait. An answer is taken and handed on
  // in one synchronous step (see pool/answers.ts: a blocking call begun in
  // between would otherwise wait for it for ever), and nothing of it runs in
  // the turn that starts it.
  async #read(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      await Promise.resolve();
      while (this.#waiting.size > 0 && !this.#gone) {
        if (this.#reply.qsize() === 0 && !(await this.#reply._whenReadable(undefined, SLICE_MS))) {
          if (!identityAlive(this.#server)) this.lost('its process exited');
          continue;
        }
        for (;;) {
          let answer: Answer;
          try {
            answer = this.#reply.getNowait();
          } catch (e) {
            if (e instanceof Empty) break;
            throw e;
          }
          this.#deliver(answer);
        }
      }
    } catch (e) {
      if (!this.#gone) {
        for (const waiter of this.#waiting.values()) waiter.reject(e as Error);
        this.#waiting.clear();
      }
    } finally {
      this.#reading = false;
    }
  }

  /** This thread leaves: the server drops what it held for it. */
  bye(): void {
    if (this.#gone) return;
    this.flushReleased();
    try {
      this.#put([Op.Bye, this.#id, 0]);
    } catch {
      // gone already
    }
  }
}

/**
 * Takes what is left in a gone server's request queue: handles in it (a
 * reply queue in a Hello, proxies in arguments) give back what they
 * reserved for the server, which would otherwise keep their objects for ever.
 */
export function discardRequests(requests: Queue<Request>): void {
  for (;;) {
    try {
      requests.getNowait();
    } catch (e) {
      if (e instanceof Empty) return;
      // an item that cannot be decoded: what it reserved is lost with it; go on
    }
  }
}

// At exit, each connection says goodbye, so the server frees what only this thread held.
process.once('exit', () => {
  for (const client of clients.values()) client.bye();
});
