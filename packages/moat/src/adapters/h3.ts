// h3, both majors: `app.use(moat({ rules: 'rules.moat' }))` on h3 2, and on h3 1 (Nitro 2, Nuxt 4's
// server) as server middleware: `export default moat({ rules: 'rules.moat' })` in server/middleware/moat.ts.
// - h3 2 hands middleware a Web Request (`event.req`) whose `ip` is the socket address srvx read from the
//   platform (Bun, Deno); Moat judges it with the Web path (Firewall.checkWeb). On Node it wraps the
//   IncomingMessage, which Moat judges by the Node path when it carries no body (judgeNodeBackedEvent).
// - h3 1 runs on Node's own request (`event.node.req`), so Moat judges that by the Node path: the client IP
//   from the socket, the body left for readBody() (h3 1's toWebRequest() would drain the Node stream, and
//   it builds a new Request on each call). Nitro awaits its request hooks before any middleware, so a
//   body has often arrived by then: the Node path reads it where it waits in the stream (peek-body.ts).
//   What sets it apart from a plain node:http handler: the app's own `$fetch('/api/…')` runs in-process
//   through a stand-in request (node-mock-http, marked `__unenv__`) with no socket address; it gets the
//   decision of the client request it runs for.
// Either way Moat answers with a Response or lets h3 go on. Only h3's shapes are assumed.

import type { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { nodeBodyFollows } from '../http/body-kind.js';
import { toWebResponse } from '../http/web-response.js';
import { eachHeaderOnce, incomingMessageOf, platformClientIp, platformPeerless } from './fetch-request.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { nodeRequestContexts, type NodeRequestContext } from './node-request-context.js';

/** The part of an h3 2 event Moat reads. `req.ip` is srvx's socket address, never a header. */
export interface H3EventLike {
  readonly req: Request & {
    readonly ip?: string;
    readonly runtime?: { readonly node?: { readonly req?: unknown }; readonly bun?: { readonly server?: unknown }; readonly deno?: { readonly info?: unknown } };
  };
}

/** The part of an h3 1 event Moat reads. */
export interface H3NodeEventLike {
  readonly node: { readonly req: IncomingMessage };
}

/**
 * h3 middleware: a Response ends the request, undefined lets the next handler run. Synchronous unless
 * Moat reads a body: h3 then goes straight on to the next handler, with no promise in between.
 */
export type MoatH3Middleware =
  ((event: H3EventLike | H3NodeEventLike) => Response | undefined | Promise<Response | undefined>) & {
    readonly firewall: Firewall;
    /** What h3 1's defineEventHandler() marks a handler with, so Nitro takes the middleware as it is. */
    readonly __is_handler__: true;
  };

export function moat(options?: FirewallOrOptions): MoatH3Middleware {
  const firewall = firewallFrom(options);
  let contexts: AsyncLocalStorage<NodeRequestContext> | undefined;
  const middleware = (event: H3EventLike | H3NodeEventLike): Response | undefined | Promise<Response | undefined> => {
    // The majors told apart by `event.req`: h3 2's is a Web Request, h3 1's (deprecated) the Node request.
    // Not by `event.node`: h3 2 has one too on Node (srvx's `{ req, res }`), and its app reads srvx's
    // Headers, not the Node request's (a repeated header joined, not the first copy).
    let verdict: Verdict | Promise<Verdict>;
    const req = (event as { req?: unknown }).req;
    const node = nodeRequestBehind(req);
    if (node !== undefined) verdict = judgeNodeBackedEvent(firewall, req as H3EventLike['req'], node);
    else if (isWebRequest(req)) verdict = judgeWebEvent(firewall, req as H3EventLike['req']);
    else {
      // Watched from the first h3 1 request on, so that h3 2 apps never pay for the request context.
      contexts ??= nodeRequestContexts();
      verdict = judgeH3NodeEvent(firewall, event as H3NodeEventLike, contexts);
    }
    if (verdict === null) return undefined;
    if (verdict instanceof Promise) return verdict.then(answerOrGoOn);
    return toWebResponse(verdict);
  };
  return Object.assign(middleware, { firewall, __is_handler__: true as const });
}

function answerOrGoOn(verdict: Verdict): Response | undefined {
  return verdict === null ? undefined : toWebResponse(verdict);
}

// ---- h3 2: srvx's Request, and on Node the IncomingMessage behind it ----

/** An h3 2 Request (on Bun or Deno here: on Node the IncomingMessage behind it was found first). */
function isWebRequest(req: unknown): req is H3EventLike['req'] {
  return typeof req === 'object' && req !== null && typeof (req as { headers?: { get?: unknown } }).headers?.get === 'function';
}

/**
 * The IncomingMessage behind h3 2's Request on Node, found before anything reads `req.headers`: srvx
 * builds its Headers object on that first read, which a bodiless request judged by the Node path never
 * needs (nor does a hello world). h3 1's `event.req` is the IncomingMessage itself, with no `runtime`.
 */
function nodeRequestBehind(req: unknown): IncomingMessage | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  return incomingMessageOf((req as H3EventLike['req']).runtime?.node?.req);
}

/**
 * On Node, srvx's Request wraps the IncomingMessage (`runtime.node.req`), which is judged by the Node
 * path when it declares no body: the parsed headers read directly, where each `Headers.get()` of the
 * wrapper looks the name up in them and, for Host, User-Agent and the like, scans the raw headers for
 * a repeat (a GET judged in 0.56 µs against 1.49 µs in a loop). A body is read from a clone by the Web
 * path as before, so that judging never waits on the stream srvx reads later; a repeated header name
 * goes to the Web path too, since srvx's Headers joins the copies Node drops (fetch-request.ts). Either
 * way the client is the socket's address, forwarding headers read only from Moat's trusted proxies
 * (srvx's own `trustProxy` does not decide for Moat). On Bun and Deno, `req.ip` is the platform's.
 */
function judgeNodeBackedEvent(firewall: Firewall, req: H3EventLike['req'], node: IncomingMessage): Verdict | Promise<Verdict> {
  if (!nodeBodyFollows(node, node.headers) && eachHeaderOnce(node)) return firewall.check(node);
  return firewall.checkWeb(req, node.socket?.remoteAddress);
}

// ---- h3 1: Node's request behind the event ----

/**
 * One decision per HTTP request. A stand-in request inside a judged client request answers as that
 * request did; one outside any (a Nitro task, a preset that is not Node's) is judged as it is, its
 * missing address counted as noPeerAddress.
 */
function judgeH3NodeEvent(firewall: Firewall, event: H3NodeEventLike, contexts: AsyncLocalStorage<NodeRequestContext>): Verdict | Promise<Verdict> {
  const req = event.node.req;
  const context = contexts.getStore();
  if ('__unenv__' in req) {
    if (context !== undefined && context.decision !== undefined) return context.decision as Verdict | Promise<Verdict>;
    return firewall.check(req);
  }
  const verdict = firewall.check(req);
  if (context === undefined) {
    // A request that started before the context was watched (the first ones): entered here, for the
    // in-process requests its handlers make.
    contexts.enterWith({ socket: req.socket, decision: verdict });
  } else if (context.socket === req.socket) context.decision = verdict;
  return verdict;
}

/**
 * An h3 2 request on Bun or Deno: the address from the platform's own context (srvx hands it over), as
 * a fetch handler reads it, so a Unix socket or a peer already gone is told apart from a client (srvx's
 * `req.ip` is null then, or Deno's `0.0.0.0`); elsewhere srvx's `req.ip`.
 */
function judgeWebEvent(firewall: Firewall, req: H3EventLike['req']): Verdict | Promise<Verdict> {
  const platform = req.runtime?.bun?.server ?? req.runtime?.deno?.info;
  if (platform === undefined) return firewall.checkWeb(req, req.ip);
  const ip = platformClientIp(req, platform);
  if (ip !== undefined) return firewall.checkWeb(req, ip);
  const peerless = platformPeerless(platform);
  return firewall.checkWeb(req, undefined, peerless === undefined ? undefined : { peerless });
}
