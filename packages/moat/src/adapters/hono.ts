// Hono on any runtime: `app.use(moat({ rules: 'rules.moat' }))`. On @hono/node-server the Node request
// is taken from `c.env.incoming`, so the client IP comes from the real socket and the body is peeked
// before Hono reads it. Elsewhere (Bun.serve, Deno.serve) the Web request `c.req.raw` is judged with
// Firewall.handle(), the client address taken from what the runtime passed as `c.env` (Bun's server,
// Deno's info), never from a header. Only Hono's types are imported.

import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import type { Firewall } from '../firewall/firewall.js';
import type { BlockResponse } from '../firewall/options.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { platformClientInfo } from './web.js';

export type MoatHonoMiddleware = MiddlewareHandler & { readonly firewall: Firewall };

function respond(c: Context, response: BlockResponse): Response {
  return new Response(response.body ?? '', { status: response.status, headers: response.headers });
}

function incomingOf(c: Context): IncomingMessage | undefined {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return env?.incoming;
}

export function moat(options?: FirewallOrOptions): MoatHonoMiddleware {
  const firewall = firewallFrom(options);
  const middleware: MiddlewareHandler = async (c, next) => {
    const incoming = incomingOf(c);
    if (incoming === undefined) {
      // Another runtime: the Web front door. Where the runtime gives no address (Workers), the client is
      // unknown: counted in noPeerAddress, never read from a header.
      let answer = firewall.handle(c.req.raw, platformClientInfo(c.req.raw, c.env));
      if (answer instanceof Promise) answer = await answer;
      if (answer !== null) return answer;
      await next();
      return;
    }
    let verdict = firewall.check(incoming);
    if (verdict instanceof Promise) verdict = await verdict;
    if (verdict !== null) return respond(c, verdict);
    await next();
  };
  return Object.assign(middleware, { firewall });
}
