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
  /** [Hello, client, call, replyQueue, identity]: a new client; answered with the server's name. */
  Hello: 0,
  /** [Create, client, call, typeid, init]: a new object; answered with its ref. */
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
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export type Request =
  | [typeof Op.Hello, number, number, Queue<Answer>, string]
  | [typeof Op.Create, number, number, string, unknown]
  | [typeof Op.Call, number, number, number, string, unknown[]]
  | [typeof Op.Release | typeof Op.Send | typeof Op.Adopt | typeof Op.Unsend, number, 0, number[]]
  | [typeof Op.Bye, number, 0]
  | [typeof Op.Shutdown | typeof Op.Ping, number, number];

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
