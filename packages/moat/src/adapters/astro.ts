// Astro middleware (src/middleware.ts): `export const onRequest = moat({ rules: 'rules.moat' })`.
// Why an adapter and not `firewall.handle(context.request, { ip: context.clientAddress })`: on
// @astrojs/node, clientAddress is the first X-Forwarded-For value whenever the client sends one, so any
// client could name its own address (an allowed one included). On Node the adapter reads the socket
// through the request context (node-request-context.ts) instead. Without one (another platform, or a
// request that arrived before this module loaded), clientAddress is believed only if the request carries
// no X-Forwarded-For; otherwise the client is unknown (counted, never taken from the header).
// Astro is not imported.

import type { Firewall } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { nodeRequestContexts } from './node-request-context.js';

/** The part of Astro's APIContext Moat reads. */
export interface AstroContextLike {
  readonly request: Request;
  readonly clientAddress: string;
}

/** Astro's middleware: a Response ends the request, `next()` renders the route. */
export type MoatAstroMiddleware =
  ((context: AstroContextLike, next: () => Promise<Response>) => Promise<Response>) & { readonly firewall: Firewall };

// Subscribed when this module loads: Astro loads src/middleware.ts at start-up or on first use; run with
// `node --import moat-waf/adapters/astro` to know the connection of requests that arrive before that.
const contexts = nodeRequestContexts();

function clientIpOf(context: AstroContextLike): string | undefined {
  const node = contexts.getStore();
  if (node !== undefined) return node.socket.remoteAddress;
  if (context.request.headers.has('x-forwarded-for')) return undefined;
  try {
    return context.clientAddress;
  } catch {
    // Astro throws where the platform gives no address (prerendering, some adapters).
    return undefined;
  }
}

export function moat(options?: FirewallOrOptions): MoatAstroMiddleware {
  const firewall = firewallFrom(options);
  // Not async: a request that goes on returns next()'s own promise, with none of Moat's in between.
  const middleware = (context: AstroContextLike, next: () => Promise<Response>): Promise<Response> => {
    const verdict = firewall.checkWeb(context.request, clientIpOf(context));
    if (verdict === null) return next();
    if (verdict instanceof Promise) return verdict.then((v) => (v === null ? next() : toWebResponse(v)));
    return Promise.resolve(toWebResponse(verdict));
  };
  return Object.assign(middleware, { firewall });
}
