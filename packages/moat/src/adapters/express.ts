// Express (4 and 5): `app.use(moat({ rules: 'rules.moat' }))`, before routes and body parsers; and
// `expressServerOptions(app)`, for a server whose requests Express does not have to re-prototype.
// Types are written out rather than imported, so Express is not needed to compile this file.

import { IncomingMessage, ServerResponse } from 'node:http';
import type { Firewall } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { sendNodeResponse } from './send-node-response.js';

export type ExpressMiddleware = ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) & {
  readonly firewall: Firewall;
};

export function moat(options?: FirewallOrOptions): ExpressMiddleware {
  const firewall = firewallFrom(options);
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
    // Express has swapped req's prototype, so an ordinary read of it misses V8's caches: read with
    // Reflect.get (Firewall.checkRead). Except `method`: its miss here fills the cache entry that
    // Express's router reads it through next, which would miss instead (counted with --log-ic).
    // Inside app.use('/prefix', …) Express strips the prefix from req.url; rules see the whole path.
    const verdict = firewall.checkRead(req, req.method, get(req, 'originalUrl') ?? get(req, 'url'), get(req, 'headers'),
      get(req, 'socket'));
    if (verdict instanceof Promise) {
      verdict.then((v) => (v === null ? next() : sendNodeResponse(res, v)));
    } else if (verdict === null) {
      next();
    } else {
      sendNodeResponse(res, verdict);
    }
  };
  return Object.assign(middleware, { firewall });
}

/** A property of a request whose hidden class V8 has never seen: a generic lookup, without an inline cache. */
const get = Reflect.get as <K extends string>(req: IncomingMessage, key: K) => K extends keyof IncomingMessage ? IncomingMessage[K] : string | undefined;

/** The two prototypes Express puts under every request and response it handles (an Express app has both). */
export interface ExpressPrototypes {
  readonly request: object;
  readonly response: object;
}

/** What `http.createServer` (or `https.createServer`) takes to build requests and responses with other classes. */
export interface ExpressServerOptions {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
}

/**
 * Server options that build each request and response on the app's own prototypes:
 * `http.createServer(expressServerOptions(app), withMoat(app, options))`. Express swaps the prototype of
 * every `req` and `res` it handles, and V8 never shares the hidden class of an object whose prototype
 * changed after it had properties, so every later property read of them (Node's, Express's, Moat's)
 * misses V8's caches. Built on those prototypes already, Express's swap changes nothing and the reads
 * hit (docs/performance.md). The objects are still Node's: their constructors run unchanged.
 */
export function expressServerOptions(app: ExpressPrototypes): ExpressServerOptions {
  // Node's constructors are plain functions (Node 20): called on an object made from a function
  // whose `prototype` is the app's very object, they add their fields by the usual shared transitions.
  // (Reflect.construct with such a new.target measured worse: a fresh hidden class per request.) Should a
  // Node turn them into classes, which cannot be called so, the server gets Node's own and nothing changes.
  if (!callable(IncomingMessage) || !callable(ServerResponse)) return { IncomingMessage, ServerResponse };
  const constructRequest = IncomingMessage as unknown as (this: object, ...args: unknown[]) => void;
  const constructResponse = ServerResponse as unknown as (this: object, ...args: unknown[]) => void;
  function ExpressRequest(this: object, ...args: unknown[]): void {
    constructRequest.apply(this, args);
  }
  ExpressRequest.prototype = app.request;
  function ExpressResponse(this: object, ...args: unknown[]): void {
    constructResponse.apply(this, args);
  }
  ExpressResponse.prototype = app.response;
  return {
    IncomingMessage: ExpressRequest as unknown as typeof IncomingMessage,
    ServerResponse: ExpressResponse as unknown as typeof ServerResponse,
  };
}

/** True for a constructor that can also be called as a function (not a `class`). */
function callable(constructor: abstract new (...args: never[]) => unknown): boolean {
  return !Function.prototype.toString.call(constructor).startsWith('class');
}
