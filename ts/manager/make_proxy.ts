// The proxy of each type, and how proxies arrive: a ProxyHandle written by
// a client in another process (a Process argument, a queue item), or a
// RefHandle the server wrote into an answer to this thread.
import type { Queue } from '../messaging/queue';
import { registerHandleKind, reopenHandle } from '../share/handles';
import { Client } from './client';
import { HELD_PROXIES } from './held_proxies';
import { Op, type Request } from './protocol';
import { AsyncNamespaceProxy, DictProxy, ListProxy, BaseProxy, makeNamespace, registeredClass, type Ref } from './proxies';
import { PROXY_KIND, REF_KIND, type ProxyHandle, type RefHandle } from './refs';
import { RemoteClient } from './remote_client';

// A remote namespace has methods only: `ns.x` or `ns.x = 1` would read or set a local property
// and lose the value silently (the gotcha made loud), so they throw.
function guardedNamespace(ns: AsyncNamespaceProxy): AsyncNamespaceProxy {
  const refuse = (key: string): TypeError =>
    new TypeError(
      `a Namespace of a remote manager is read and written with await ns.get(${JSON.stringify(key)}) and ns.set(${JSON.stringify(key)}, value): property access would have to block`,
    );
  return new Proxy(ns, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || key in target || key === 'then' || key === 'toJSON')
        return Reflect.get(target, key, receiver) as unknown;
      throw refuse(key);
    },
    set(_target, key) {
      throw refuse(String(key));
    },
  });
}

/** The proxy for an object of type `typeid`. */
export function makeProxy(r: Ref): object {
  if (r.methods) return new (registeredClass(r.methods))(r);
  switch (r.typeid) {
    case 'dict':
      return new DictProxy(r);
    case 'list':
      return new ListProxy(r);
    case 'Namespace':
      // Plain property access blocks for the answer: a socket cannot.
      return r.client.remote ? guardedNamespace(new AsyncNamespaceProxy(r)) : makeNamespace(r);
    default: {
      const cls = Object.prototype.hasOwnProperty.call(HELD_PROXIES, r.typeid) ? HELD_PROXIES[r.typeid] : BaseProxy;
      return new cls(r);
    }
  }
}

/** This thread's connection to a local manager, made by the manager itself or from a proxy's handle. */
export function connectLocal(key: string, requests: Queue<Request>, server: [number, number]): Client {
  return Client.for(key, requests, server);
}

registerHandleKind(PROXY_KIND, (data) => {
  const h = data as unknown as ProxyHandle;
  const client = h.remote
    ? RemoteClient.shared(h.remote, h.server)
    : connectLocal(h.server, reopenHandle(h.requests!) as Queue<Request>, h.process!);
  if (h.inFlight) client.tell(Op.Adopt, [h.id]);
  return makeProxy({ client, id: h.id, typeid: h.typeid, methods: h.methods });
});

registerHandleKind(REF_KIND, (data) => {
  const h = data as unknown as RefHandle;
  const client = RemoteClient.decoding ?? Client.known(h.server);
  if (!client) throw new Error('internal error: a manager answered a thread that has no connection to it');
  return makeProxy({ client, id: h.id, typeid: h.typeid, methods: h.methods });
});
