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
import { Framed, HEADER, KEEPALIVE_MS } from './frames';
import { decodeMessage, encodeMessage } from './wire';
import { Op, Status, type Answer, type Request } from './protocol';

/** Connections not yet authenticated, at most: beyond, the oldest is closed. */
const MAX_PENDING = 128;

// Refusals are logged at most once per this many ms (a flood is one line, with its count).
const LOG_EVERY_MS = 1000;

/** Where a manager listens: TCP (host defaults to 127.0.0.1) or a Unix socket. */
export type Address = { host?: string; port: number; path?: never } | { path: string; host?: never; port?: never };

/** An address with its defaults filled in. */
export type ResolvedAddress = { host: string; port: number } | { path: string };

export interface ListenOptions {
  address: ResolvedAddress;
  authkey: Buffer;
  maxMessageBytes: number;
  authTimeoutMs: number;
}

/** What the listener needs of the server. */
export interface Host {
  /** A client connected; `write` sends it an answer (false: too large, its call was failed instead). */
  connected(write: (answer: Answer) => boolean): number;
  disconnected(id: number): void;
  handle(request: Request): boolean;
  /** A request that could not be read: what its proxies left behind is not charged to the next one. */
  discardDecodeError(): void;
}

export interface Listening {
  address: ResolvedAddress;
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

// A Unix socket file nobody listens on (its manager was killed): removed, so that a new one can
// listen there. One that answers is left alone (listen then fails with EADDRINUSE).
async function removeStaleSocket(file: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!stat.isSocket() || stat.uid !== process.getuid?.()) return;
  const refused = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
  if (refused) fs.rmSync(file, { force: true });
}

export async function listen(host: Host, options: ListenOptions): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  // Connections authenticating, oldest first.
  const pending = new Set<net.Socket>();
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
    socket.on('close', () => {
      sockets.delete(socket);
      pending.delete(socket);
    });
    // A host that vanishes (a crash, a cut network) is noticed by TCP keepalive, and its connection closed.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    // Too many authenticating: the oldest goes (one that stalls), not the new one (likely quick).
    if (pending.size >= MAX_PENDING) {
      const oldest = pending.values().next().value!;
      pending.delete(oldest);
      refuse(peer, `${MAX_PENDING} connections were authenticating: the oldest was closed`);
      oldest.destroy();
    }
    pending.add(socket);
    const framed = new Framed(socket, AUTH_FRAME);
    void (async () => {
      try {
        await deliverChallenge(framed, options.authkey, 'client', options.authTimeoutMs);
        await answerChallenge(framed, options.authkey, 'server', options.authTimeoutMs);
      } catch (e) {
        pending.delete(socket);
        refuse(peer, e instanceof Error ? e.message : String(e));
        // The verdict (#FAILURE#) reaches the client before the connection closes.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      if (!pending.delete(socket)) return; // closed meanwhile
      serve(host, framed, options, (why) => refuse(peer, why));
    })();
  });
  server.maxConnections = 4096;

  const address = options.address;
  if ('path' in address) await removeStaleSocket(address.path);
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
  const real: ResolvedAddress = 'path' in address ? { path: address.path } : { host: address.host, port: (bound as net.AddressInfo).port };
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

// The shape each op's request must have (after [op, client, call]): a peer
// that sends anything else is cut off, and nothing of it runs.
const ids = (v: unknown): boolean => Array.isArray(v) && v.every((x) => Number.isInteger(x));
const SHAPES: Record<number, (r: unknown[]) => boolean> = {
  [Op.Hello]: (r) => r.length === 4 && Number.isInteger(r[3]),
  [Op.Create]: (r) => r.length === 5 && typeof r[3] === 'string',
  [Op.Call]: (r) => r.length === 6 && Number.isInteger(r[3]) && typeof r[4] === 'string' && Array.isArray(r[5]),
  [Op.Release]: (r) => r.length === 4 && ids(r[3]),
  [Op.Send]: (r) => r.length === 4 && ids(r[3]),
  [Op.Adopt]: (r) => r.length === 4 && ids(r[3]),
  [Op.Unsend]: (r) => r.length === 4 && ids(r[3]),
  [Op.Shutdown]: (r) => r.length === 3,
  [Op.Bye]: (r) => r.length === 3,
  [Op.Ping]: (r) => r.length === 3,
  [Op.Publish]: (r) => r.length === 5,
  [Op.Lookup]: (r) => r.length === 4,
};

function wellFormed(request: unknown): request is Request {
  if (!Array.isArray(request) || request.length < 3) return false;
  const [op, , call] = request as unknown[];
  if (typeof op !== 'number' || !Number.isInteger(call) || (call as number) < 0) return false;
  const shape = Object.prototype.hasOwnProperty.call(SHAPES, op) ? SHAPES[op] : undefined;
  return shape !== undefined && shape(request as unknown[]);
}

// An authenticated connection: requests in, answers out.
function serve(host: Host, framed: Framed, options: ListenOptions, refuse: (why: string) => void): void {
  const socket = framed.socket;
  // Answers the client does not read: beyond this many bytes buffered, it is cut off.
  const unread = Math.max(4 * options.maxMessageBytes, 64 * 1024 * 1024);
  // What the client takes (its Hello says): answers over it fail their call instead of closing the connection.
  let answerLimit = options.maxMessageBytes;
  framed.limit = options.maxMessageBytes;
  const cut = (why: string): void => {
    refuse(why);
    socket.destroy();
  };
  const id = host.connected((answer) => {
    let bytes = encodeMessage(answer, HEADER, 'the answer');
    if (bytes.length - HEADER > answerLimit) {
      const e = Object.assign(
        new RangeError(`the answer is ${bytes.length - HEADER} bytes, over the connection's maxMessageBytes (${answerLimit})`),
        { code: 'ERR_MP_MESSAGE_TOO_LARGE' },
      );
      bytes = encodeMessage([answer[0], Status.Threw, toWire(e)], HEADER, 'the answer');
      framed.sendFramed(bytes);
      return false;
    }
    framed.sendFramed(bytes);
    if (socket.writableLength > unread) cut(`it read none of ${socket.writableLength} bytes of answers`);
    return true;
  });
  socket.on('close', () => host.disconnected(id));
  framed.onFrame((frame) => {
    if (socket.destroyed) return;
    let request: unknown;
    try {
      request = decodeMessage(frame);
    } catch (e) {
      host.discardDecodeError();
      return cut(`it sent a message that cannot be read: ${(e as Error).message}`);
    }
    if (!wellFormed(request)) {
      host.discardDecodeError();
      return cut('it sent a message that is not a request');
    }
    request[1] = id; // who asks is the connection, whatever it says
    if (request[0] === Op.Hello) {
      answerLimit = Math.min(options.maxMessageBytes, Math.max(1024, (request as unknown[])[3] as number));
      return;
    }
    try {
      host.handle(request);
    } catch (e) {
      cut(`its request failed the server: ${(e as Error).message}`);
    }
  });
  // An oversized frame after authentication: the connection fails (frames.ts).
  socket.on('close', () => {
    const failed = framed.failed;
    if (failed && /over the limit/.test(failed.message)) refuse(failed.message);
  });
}
