// Which connection is the code running for? Next.js hands its proxy a Web Request without the socket
// (no `ip` since Next 15) and fills X-Forwarded-For from the socket only when the client sent none, so
// neither can say who the client is. But Next serves on node:http in this process, and node:http
// announces every request on the `http.server.request.start` diagnostics channel, synchronously, just
// before the server's 'request' event. Entering an AsyncLocalStorage there makes the socket (and a
// slot for the request's decision) visible to everything that runs for that request, the proxy included.

import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface NodeRequestContext {
  readonly socket: Socket;
  /** The decision made for this HTTP request, so a second call for it answers the same without counting again. */
  decision: unknown;
}

// One store per process, even when a bundler gives each entry (proxy, instrumentation) its own copy of Moat.
const KEY = Symbol.for('moat-waf.node-request-context');

type Holder = { [KEY]?: AsyncLocalStorage<NodeRequestContext> };

/** The store, created and subscribed to the channel on first use. Requests that started before that have none. */
export function nodeRequestContexts(): AsyncLocalStorage<NodeRequestContext> {
  const holder = globalThis as Holder;
  let contexts = holder[KEY];
  if (contexts === undefined) {
    const store = (contexts = new AsyncLocalStorage<NodeRequestContext>());
    holder[KEY] = store;
    subscribe('http.server.request.start', (message) => {
      store.enterWith({ socket: (message as { socket: Socket }).socket, decision: undefined });
    });
  }
  return contexts;
}
