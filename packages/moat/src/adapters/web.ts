// Web-standard runtimes and frameworks (Bun.serve, Deno.serve, Hono's app.fetch anywhere, h3, SvelteKit,
// Astro, React Router): a fetch handler in, the same handler protected out.
//   Bun.serve({ fetch: withMoatFetch(app.fetch, { rules: 'rules.moat' }) })
//   Deno.serve(withMoatFetch(handler, { rules: 'rules.moat' }))
// The judging is the firewall's (checkWeb(), or check() on the IncomingMessage where the platform hands
// one over); this file only finds what the platform gives a fetch handler: the client's socket address,
// or the Node request itself. No runtime is imported, so it loads on Node, Bun and Deno alike.

import type { Verdict, WebClientInfo } from '../firewall/firewall.js';
import type { Firewall } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { judgeFetchRequest, nodeRequestWrapped, platformClientIp, platformPeerless } from './fetch-request.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

export type { WebClientInfo } from '../firewall/firewall.js';
export { platformClientIp } from './fetch-request.js';

/** A fetch-style handler: the request, then whatever the platform passes (Bun's server, Deno's info, Hono's env). */
export type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>;

/**
 * The protected handler. It answers synchronously when the handler does and Moat needed no body: a
 * server such as @hono/node-server writes a synchronous Response on its fast path, a promise on a
 * slower one (an extra close listener and awaits per request).
 */
export type ProtectedFetchHandler<Rest extends unknown[]> =
  ((request: Request, ...rest: Rest) => Response | Promise<Response>) & { readonly firewall: Firewall };

/**
 * `info` for Firewall.handle() from a fetch handler's second argument: the socket address, and on
 * @hono/node-server the Node request behind `request` where the Node path decides the same (see
 * nodeRequestWrapped), which handle() then judges without the wrapper's Headers.
 */
export function platformClientInfo(request: Request, context: unknown): WebClientInfo {
  const incoming = nodeRequestWrapped(request, context);
  if (incoming !== undefined) return { ip: incoming.socket?.remoteAddress, incoming };
  const ip = platformClientIp(request, context);
  if (ip !== undefined) return { ip };
  const peerless = platformPeerless(context);
  return peerless === undefined ? {} : { peerless };
}

/** Wraps a fetch handler: requests Moat lets through go to `handler` untouched (bodies included), the others get Moat's answer. */
export function withMoatFetch<Rest extends unknown[]>(handler: FetchHandler<Rest>, options?: FirewallOrOptions): ProtectedFetchHandler<Rest> {
  const firewall = firewallFrom(options);
  const call = handler as AnyHandler;
  // Not async, and `arguments` rather than a rest array: a passing request costs no promise and no copy
  // of the platform's arguments. A promise only when Moat read a body or asked a shared rate-limit store.
  const wrapped = function (this: unknown, request: Request): Response | Promise<Response> {
    const args = arguments;
    const verdict = judgeFetchRequest(firewall, request, args[1]);
    if (verdict === null) return call.apply(this, args as unknown as unknown[]);
    if (!(verdict instanceof Promise)) return toWebResponse(verdict);
    return afterBody(verdict, call, this, args);
  };
  return Object.assign(wrapped as unknown as (request: Request, ...rest: Rest) => Response | Promise<Response>, { firewall });
}

type AnyHandler = (this: unknown, ...args: unknown[]) => Response | Promise<Response>;

// Apart from withMoatFetch's function so that the closure (and the context holding `this` and the
// arguments) is made only for requests whose judging is asynchronous.
function afterBody(verdict: Promise<Verdict>, call: AnyHandler, self: unknown, args: IArguments): Promise<Response> {
  return verdict.then((v) => (v === null ? call.apply(self, args as unknown as unknown[]) : toWebResponse(v)));
}
