// h3 v2 (Nitro, Nuxt's server): `app.use(moat({ rules: 'rules.moat' }))`. h3 hands middleware a Web
// Request (`event.req`) whose `ip` is the socket address srvx read from the platform (Node, Bun, Deno);
// Moat judges it with the Web path (Firewall.checkWeb) and either answers or lets h3 go on. Only h3's shape is assumed.

import type { Firewall, Verdict } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

/** The part of an H3Event Moat reads. `req.ip` is srvx's socket address, never a header. */
export interface H3EventLike {
  readonly req: Request & { readonly ip?: string };
}

/**
 * h3 middleware: a Response ends the request, undefined lets the next handler run. Synchronous unless
 * Moat reads a body: h3 then goes straight on to the next handler, with no promise in between.
 */
export type MoatH3Middleware =
  ((event: H3EventLike) => Response | undefined | Promise<Response | undefined>) & { readonly firewall: Firewall };

export function moat(options?: FirewallOrOptions): MoatH3Middleware {
  const firewall = firewallFrom(options);
  const middleware = (event: H3EventLike): Response | undefined | Promise<Response | undefined> => {
    const verdict = firewall.checkWeb(event.req, event.req.ip);
    if (verdict === null) return undefined;
    if (verdict instanceof Promise) return verdict.then(answerOrGoOn);
    return toWebResponse(verdict);
  };
  return Object.assign(middleware, { firewall });
}

function answerOrGoOn(verdict: Verdict): Response | undefined {
  return verdict === null ? undefined : toWebResponse(verdict);
}
