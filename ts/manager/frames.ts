// Messages over a manager's socket: each is a frame, a 4-byte big-endian
// length and that many bytes (as CPython's Connection frames them). A
// reader never buffers more than its limit for one frame: a length above it
// fails the connection at once, before its bytes arrive (a 1 GB frame costs
// the 4 bytes that announce it). Before authentication the limit is a few
// hundred bytes; after, the manager's maxMessageBytes.
import type { Socket } from 'node:net';

export const HEADER = 4;
/** Idle time before TCP keepalive probes the peer of a manager's connection. */
export const KEEPALIVE_MS = 10_000;
/** The largest length a frame header can say. */
export const MAX_FRAME = 0x7fffffff;

export class FrameError extends Error {
  override name = 'FrameError';
}

/** A socket's frames: taken one at a time (next()) or handed to a handler as they come (onFrame). */
export class Framed {
  readonly socket: Socket;
  #limit: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #frames: Buffer[] = [];
  #handler: ((frame: Buffer) => void) | undefined;
  #waiter: { resolve(frame: Buffer): void; reject(e: Error): void } | undefined;
  #failed: Error | undefined;

  constructor(socket: Socket, limit: number) {
    this.socket = socket;
    this.#limit = limit;
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new FrameError('the connection closed')));
  }

  /** Frames longer than this fail the connection. */
  set limit(bytes: number) {
    this.#limit = bytes;
  }

  /** Why the connection failed (undefined while it is open). */
  get failed(): Error | undefined {
    return this.#failed;
  }

  #data(chunk: Buffer): void {
    if (this.#failed) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes >= HEADER) {
      const head = this.#peek(HEADER);
      const length = head.readUInt32BE(0);
      if (length > this.#limit || length > MAX_FRAME) {
        this.#fail(new FrameError(`a frame of ${length} bytes is over the limit of ${this.#limit}`));
        this.socket.destroy();
        return;
      }
      if (this.#pendingBytes < HEADER + length) return;
      const bytes = this.#take(HEADER + length).subarray(HEADER);
      if (this.#handler) {
        this.#handler(bytes);
        if (this.#failed || this.socket.destroyed) return; // what follows a frame that cut the connection does not run
      } else if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w.resolve(bytes);
      } else this.#frames.push(bytes);
    }
  }

  // The first n pending bytes (n <= pendingBytes), without taking them.
  #peek(n: number): Buffer {
    if (this.#pending[0].length >= n) return this.#pending[0];
    const all = Buffer.concat(this.#pending);
    this.#pending = [all];
    return all;
  }

  #take(n: number): Buffer {
    const first = this.#peek(n);
    // A frame handed on at once may share its chunk's memory; one kept for next() gets its own.
    const out = this.#handler ? first.subarray(0, n) : Buffer.from(first.subarray(0, n));
    if (first.length === n) this.#pending.shift();
    else this.#pending[0] = first.subarray(n);
    this.#pendingBytes -= n;
    return out;
  }

  #fail(e: Error): void {
    if (this.#failed) return;
    this.#failed = e;
    this.#pending = [];
    this.#waiter?.reject(e);
    this.#waiter = undefined;
  }

  /** The next frame (rejects when the connection fails, or after timeoutMs). */
  next(timeoutMs: number): Promise<Buffer> {
    const ready = this.#frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new FrameError(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** From now on every frame goes to `handler` as it arrives (frames already read first). */
  onFrame(handler: (frame: Buffer) => void): void {
    this.#handler = handler;
    for (const f of this.#frames.splice(0)) handler(f);
  }

  /** Writes a frame; false when the socket's buffer is full (the caller decides what that means). */
  send(payload: Uint8Array): boolean {
    const out = Buffer.allocUnsafe(HEADER + payload.length);
    out.set(payload, HEADER);
    return this.sendFramed(out);
  }

  /** Writes a frame whose payload `out` holds after HEADER free bytes (filled in here). */
  sendFramed(out: Buffer): boolean {
    out.writeUInt32BE(out.length - HEADER, 0);
    return this.socket.write(out);
  }
}
