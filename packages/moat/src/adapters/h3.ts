// h3 v2 (Nitro, Nuxt's server): `app.use(moat({ rules: 'rules.moat' }))`. h3 hands middleware a Web
// Request (`event.req`) whose `ip` is the socket address srvx read from the platform (Node, Bun, Deno);
// Moat judges it with Firewall.handle() and either answers or lets h3 go on. Only h3's shape is assumed.

import type { Firewall } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

/** The part of an H3Event Moat reads. `req.ip` is srvx's socket address, never a header. */
export interface H3EventLike {
  readonly req: Request & { readonly ip?: string };
}

/** h3 middleware: a Response ends the request, undefined lets the next handler run. */
export type MoatH3Middleware = ((event: H3EventLike) => Promise<Response | undefined>) & { readonly firewall: Firewall };

export function moat(options?: FirewallOrOptions): MoatH3Middleware {
  const firewall = firewallFrom(options);
  const middleware = async (event: H3EventLike): Promise<Response | undefined> => {
    let answer = firewall.handle(event.req, { ip: event.req.ip });
    if (answer instanceof Promise) answer = await answer;
    return answer ?? undefined;
  };
  return Object.assign(middleware, { firewall });
}
