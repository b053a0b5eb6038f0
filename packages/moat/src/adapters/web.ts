// Web-standard runtimes and frameworks (Bun.serve, Deno.serve, Hono's app.fetch anywhere, h3, SvelteKit,
// Astro, React Router): a fetch handler in, the same handler protected out.
//   Bun.serve({ fetch: withMoatFetch(app.fetch, { rules: 'rules.moat' }) })
//   Deno.serve(withMoatFetch(handler, { rules: 'rules.moat' }))
// The judging is Firewall.handle(); this file only finds the client's socket address where the
// platform hands it to a fetch handler. No runtime is imported, so it loads on Node, Bun and Deno alike.

import type { Firewall, WebClientInfo } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

export type { WebClientInfo } from '../firewall/firewall.js';

/** A fetch-style handler: the request, then whatever the platform passes (Bun's server, Deno's info, Hono's env). */
export type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>;

export type ProtectedFetchHandler<Rest extends unknown[]> =
  ((request: Request, ...rest: Rest) => Promise<Response>) & { readonly firewall: Firewall };

interface BunServerLike { requestIP(request: Request): { address: string } | null }
interface DenoInfoLike { remoteAddr: { transport: string; hostname?: string } }
interface NodeServerEnvLike { incoming: { socket?: { remoteAddress?: string } } }

/**
 * The socket address the platform gave a fetch handler in its second argument: Bun's `server`
 * (`requestIP`), Deno's `info` (`remoteAddr`), @hono/node-server's env (`incoming`). Undefined when
 * none of these: the firewall then treats the client as unknown. Never read from a header.
 */
export function platformClientIp(request: Request, context: unknown): string | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const bun = context as Partial<BunServerLike>;
  if (typeof bun.requestIP === 'function') return bun.requestIP(request)?.address ?? undefined;
  const deno = context as Partial<DenoInfoLike>;
  if (typeof deno.remoteAddr === 'object' && deno.remoteAddr !== null) {
    return deno.remoteAddr.transport === 'tcp' ? deno.remoteAddr.hostname : undefined;
  }
  const node = context as Partial<NodeServerEnvLike>;
  return node.incoming?.socket?.remoteAddress;
}

/** `info` for Firewall.handle() from a fetch handler's second argument. */
export function platformClientInfo(request: Request, context: unknown): WebClientInfo {
  return { ip: platformClientIp(request, context) };
}

/** Wraps a fetch handler: requests Moat lets through go to `handler` untouched (bodies included), the others get Moat's answer. */
export function withMoatFetch<Rest extends unknown[]>(handler: FetchHandler<Rest>, options?: FirewallOrOptions): ProtectedFetchHandler<Rest> {
  const firewall = firewallFrom(options);
  const wrapped = async (request: Request, ...rest: Rest): Promise<Response> => {
    let answer = firewall.handle(request, { ip: platformClientIp(request, rest[0]) });
    if (answer instanceof Promise) answer = await answer;
    return answer ?? handler(request, ...rest);
  };
  return Object.assign(wrapped, { firewall });
}
