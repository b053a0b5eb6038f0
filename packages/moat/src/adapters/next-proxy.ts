// Next.js 16 `proxy.ts` (Node runtime), with `next start` and no custom server:
//   import { moatProxy } from 'moat-waf/adapters/next-proxy';
//   export const proxy = moatProxy({ rules: process.env.MOAT_RULES ?? 'rules.moat' });
//   export const config = { matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'] };
// The firewall is made once, when Next loads the proxy module. The client address is the socket's, found
// through the request context (node-request-context.ts), never X-Forwarded-For unless a trusted proxy
// sent it. Each HTTP request is judged once, even if Next runs the proxy for it again. Next is not imported.

import type { Verdict } from '../firewall/firewall.js';
import type { Firewall } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { nodeRequestContexts } from './node-request-context.js';

/** Next's proxy function: undefined lets the request go on, a Response answers it. */
export type MoatProxy = ((request: Request) => Promise<Response | undefined>) & { readonly firewall: Firewall };

// Subscribed when the proxy module loads. Next loads it on the first request that needs it, which then
// has no context and is judged as a client of unknown address (counted as noPeerAddress); importing this
// module from instrumentation.ts (run before Next serves) closes that gap.
const contexts = nodeRequestContexts();

export function moatProxy(options?: FirewallOrOptions): MoatProxy {
  const firewall = firewallFrom(options);
  const proxy = async (request: Request): Promise<Response | undefined> => {
    const context = contexts.getStore();
    let verdict: Verdict | Promise<Verdict>;
    if (context !== undefined && context.decision !== undefined) verdict = context.decision as Verdict | Promise<Verdict>;
    else {
      verdict = firewall.checkWeb(request, context?.socket.remoteAddress);
      if (context !== undefined) context.decision = verdict;
    }
    if (verdict instanceof Promise) verdict = await verdict;
    return verdict === null ? undefined : toWebResponse(verdict);
  };
  return Object.assign(proxy, { firewall });
}

/** For instrumentation.ts: `export { register } from 'moat-waf/adapters/next-proxy'` starts watching requests before the first one. */
export function register(): void {
  nodeRequestContexts();
}
