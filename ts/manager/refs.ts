// How a manager's objects are named on the wire. A proxy written by a
// client (to a child, into a queue, into another manager object) is a
// PROXY_KIND handle: the server's request queue (so the receiver can reach
// it) and the object. An object the server writes into an answer is a
// REF_KIND handle: the client that reads the answer made the request, so it
// knows the server by its key.
import type { HandleData } from '../share/handles';
import type { RemoteWhere } from './protocol';

export const PROXY_KIND = 'ManagerProxy';
export const REF_KIND = 'ManagerRef';

export interface ProxyHandle extends HandleData {
  kind: typeof PROXY_KIND;
  /** The server's key (a random id). */
  server: string;
  /** A local server: its request queue's own handle. */
  requests?: HandleData;
  /** A local server's process: [pid, stamp], to tell that it died. */
  process?: [number, number];
  /** A remote server: where it listens and its authkey. */
  remote?: RemoteWhere;
  id: number;
  typeid: string;
  /** Counted in flight by its sender: the receiver adopts that count. */
  inFlight: boolean;
  /** A registered type's exposed methods. */
  methods?: string[];
}

export interface RefHandle extends HandleData {
  kind: typeof REF_KIND;
  server: string;
  id: number;
  typeid: string;
  /** A registered type's exposed methods. */
  methods?: string[];
}
