// What manager clients and the manager's server say to each other. Every
// client (a thread of some process that uses the manager's proxies) puts its
// requests on the server's one request queue and reads the answers on a
// reply queue of its own, which it hands the server in its first request.
//
// Requests: [op, client, call, ...operands]. `call` numbers the client's
// requests that want an answer (0: none wanted). Answers: [call, status,
// value]: the result, or (status Threw) a WireError.
import type { WireError } from '../base/remote_error';
import type { Queue } from '../messaging/queue';

export const Op = {
  /** [Hello, client, call, replyQueue, identity]: a new local client; answered with [pid, key]. */
  Hello: 0,
  /** [Create, client, call, typeid, init]: a new object; answered with [id, exposed methods or null]. */
  Create: 1,
  /** [Call, client, call, id, method, args]: runs a method of object `id`. */
  Call: 2,
  /** [Release, client, 0, ids]: the client dropped proxies of these objects (one each). */
  Release: 3,
  /** [Send, client, 0, ids]: the client wrote a proxy of each to send elsewhere: one each in flight. */
  Send: 4,
  /** [Adopt, client, 0, ids]: the client received a proxy of each: one each in flight becomes its. */
  Adopt: 5,
  /** [Bye, client, 0]: the client is leaving (its process exits). */
  Bye: 6,
  /** [Shutdown, client, call]: the server answers, then leaves. */
  Shutdown: 7,
  /** [Ping, client, call]: answered at once (the server is up). */
  Ping: 8,
  /** [Unsend, client, 0, ids]: proxies written to be sent were not sent after all: one each no longer in flight. */
  Unsend: 9,
  /** [Publish, client, call, name, proxy]: names an object (kept until shutdown), for Lookup. */
  Publish: 10,
  /** [Lookup, client, call, name]: answered with a ref of the object published as `name`. */
  Lookup: 11,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export type Request =
  | [typeof Op.Hello, number, number, Queue<Answer>, string]
  | [typeof Op.Create, number, number, string, unknown]
  | [typeof Op.Call, number, number, number, string, unknown[]]
  | [typeof Op.Release | typeof Op.Send | typeof Op.Adopt | typeof Op.Unsend, number, 0, number[]]
  | [typeof Op.Bye, number, number]
  | [typeof Op.Shutdown | typeof Op.Ping, number, number]
  | [typeof Op.Publish, number, number, string, unknown]
  | [typeof Op.Lookup, number, number, string];

// Void: the method returned undefined (which JSON has not: the answer stays JSON text).
export const Status = { Ok: 0, Threw: 1, Void: 2 } as const;
export type Status = (typeof Status)[keyof typeof Status];

export type Answer = [number, Status, unknown];

/** An object the server holds, as proxies name it: its id and type. */
export interface ObjectRef {
  id: number;
  typeid: string;
}

export type { WireError };

/** Requests that want an answer. */
export type CallOp =
  typeof Op.Create | typeof Op.Call | typeof Op.Shutdown | typeof Op.Ping | typeof Op.Publish | typeof Op.Lookup | typeof Op.Bye;
/** Requests that want none. */
export type TellOp = typeof Op.Release | typeof Op.Send | typeof Op.Adopt | typeof Op.Unsend;

/** How a process reaches a remote manager (what a proxy's handle carries for it). */
export interface RemoteWhere {
  address: { host: string; port: number } | { path: string };
  /** The authkey, hex (in a handle: only one written for a child being started). */
  authkey: string | undefined;
  /** The largest message the server takes (known once connected). */
  maxMessageBytes?: number;
}

/**
 * A thread's connection to a manager's server, as proxies use it: over
 * shared-memory queues (client.ts) or a socket (remote_client.ts).
 */
export interface Connection {
  /** The server's key (a random id). */
  readonly key: string;
  readonly serverPid: number;
  /** Reached over a socket: calls are async only. */
  readonly remote: RemoteWhere | undefined;
  call(op: CallOp, ...operands: unknown[]): Promise<unknown>;
  callSync(op: CallOp, ...operands: unknown[]): unknown;
  tell(op: TellOp, ids: number[]): void;
  /** A proxy of `id` was dropped (told in a batch). */
  released(id: number): void;
  flushReleased(): void;
  /** A local server's request queue and process, for a proxy's handle. */
  local(): { requests: Queue<Request>; process: [number, number] } | undefined;
}
