// A remote manager's socket (TCP, loopback unless told otherwise, or a Unix
// socket of mode 0600): each connection is a client of the server once it
// has passed the handshake (auth.ts) -- nothing it sends is deserialized
// before. What a connection may cost the server is bounded: a few hundred
// bytes and authTimeoutMs until it is authenticated (at most MAX_PENDING
// such connections at a time), maxMessageBytes per message after, and
// answers it does not read up to a few messages' worth before it is cut.
import fs from 'node:fs';
import net from 'node:net';
import { getLogger } from '../base/logging';
import { currentName } from '../base/identity';
import { toWire } from '../base/remote_error';
import { AUTH_FRAME, answerChallenge, deliverChallenge } from './auth';
import { Framed, HEADER } from './frames';
import { decodeMessage, encodeMessage } from './wire';
import { Status, type Answer, type Request } from './protocol';

/** Connections not yet authenticated, at most: more are closed at once. */
const MAX_PENDING = 128;
// Refusals are logged at most once per this many ms (a flood is one line, with its count).
const LOG_EVERY_MS = 1000;

export type Address = { host: string; port: number } | { path: string };

export interface ListenOptions {
  address: Address;
  authkey: Buffer;
  maxMessageBytes: number;
  authTimeoutMs: number;
}

/** What the listener needs of the server. */
export interface Host {
  connected(write: (answer: Answer) => void): number;
  disconnected(id: number): void;
  handle(request: Request): boolean;
}

export interface Listening {
  address: Address;
  /** Connections refused so far (failed handshakes, oversized or garbage frames). */
  readonly refused: number;
  close(): void;
}

// A warning an operator sees: on the logger if it shows warnings, else on stderr.
function warn(line: string): void {
  const logger = getLogger();
  if (logger.isEnabledFor('warn')) logger.warn(line);
  else process.stderr.write(`[WARNING/${currentName()}] ${line}\n`);
}

export async function listen(host: Host, options: ListenOptions): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  let pending = 0;
  let refused = 0;
  let unlogged = 0;
  let lastLog = -Infinity;
  const refuse = (peer: string, why: string): void => {
    refused++;
    const now = performance.now();
    if (now - lastLog < LOG_EVERY_MS) {
      unlogged++;
      return;
    }
    lastLog = now;
    warn(`manager: refused a connection from ${peer}: ${why}${unlogged > 0 ? ` (and ${unlogged} more since the last line)` : ''}`);
    unlogged = 0;
  };

  const server = net.createServer({ noDelay: true }, (socket) => {
    const peer = 'path' in options.address ? 'the Unix socket' : `${socket.remoteAddress}:${socket.remotePort}`;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (pending >= MAX_PENDING) {
      refuse(peer, `${MAX_PENDING} connections are already authenticating`);
      socket.destroy();
      return;
    }
    pending++;
    const framed = new Framed(socket, AUTH_FRAME);
    void (async () => {
      try {
        await deliverChallenge(framed, options.authkey, options.authTimeoutMs);
        await answerChallenge(framed, options.authkey, options.authTimeoutMs);
      } catch (e) {
        pending--;
        refuse(peer, e instanceof Error ? e.message : String(e));
        socket.destroy();
        return;
      }
      pending--;
      serve(host, framed, options, (why) => refuse(peer, why));
    })();
  });
  server.maxConnections = 4096;

  const address = options.address;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in address) {
      // Made with no access for anyone else (not chmod after: it would be reachable meanwhile).
      const umask = process.umask(0o177);
      try {
        server.listen(address.path, () => resolve());
      } finally {
        process.umask(umask);
      }
    } else server.listen(address.port, address.host, () => resolve());
  });
  server.on('error', (e) => warn(`manager: the listening socket failed: ${e.message}`));
  const bound = server.address();
  const real: Address = 'path' in address ? { path: address.path } : { host: address.host, port: (bound as net.AddressInfo).port };
  return {
    address: real,
    get refused() {
      return refused;
    },
    close() {
      server.close();
      for (const s of sockets) s.destroy();
      if ('path' in address) fs.rmSync(address.path, { force: true });
    },
  };
}

// An authenticated connection: requests in, answers out.
function serve(host: Host, framed: Framed, options: ListenOptions, refuse: (why: string) => void): void {
  const socket = framed.socket;
  // Answers the client does not read: beyond this many bytes buffered, it is cut off.
  const unread = Math.max(4 * options.maxMessageBytes, 64 * 1024 * 1024);
  framed.limit = options.maxMessageBytes;
  const id = host.connected((answer) => {
    let bytes = encodeMessage(answer, HEADER, 'the answer');
    if (bytes.length - HEADER > options.maxMessageBytes) {
      const e = Object.assign(
        new RangeError(`the answer is ${bytes.length - HEADER} bytes, over the manager's maxMessageBytes (${options.maxMessageBytes})`),
        { code: 'ERR_MP_MESSAGE_TOO_LARGE' },
      );
      bytes = encodeMessage([answer[0], Status.Threw, toWire(e)], HEADER, 'the answer');
    }
    framed.sendFramed(bytes);
    if (socket.writableLength > unread) {
      refuse(`it read none of ${socket.writableLength} bytes of answers`);
      socket.destroy();
    }
  });
  socket.on('close', () => host.disconnected(id));
  framed.onFrame((frame) => {
    let request: unknown;
    try {
      request = decodeMessage(frame);
    } catch (e) {
      refuse(`it sent a message that cannot be read: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    if (!Array.isArray(request) || request.length < 3 || typeof request[0] !== 'number' || typeof request[2] !== 'number') {
      refuse('it sent a message that is not a request');
      socket.destroy();
      return;
    }
    request[1] = id; // who asks is the connection, whatever it says
    host.handle(request as Request);
  });
  // An oversized frame after authentication: the connection fails (frames.ts).
  socket.on('close', () => {
    const failed = framed.failed;
    if (failed && /over the limit/.test(failed.message)) refuse(failed.message);
  });
}
