// Hono on @hono/node-server: `app.use(moat({ rules: 'rules.moat' }))`. The Node request is taken
// from `c.env.incoming`, which node-server provides, so the client IP comes from the real socket and
// the body can be peeked before Hono reads it. Only Hono's types are imported.

import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import type { Firewall } from '../firewall/firewall.js';
import type { BlockResponse } from '../firewall/options.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

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
  let warned = false;
  const middleware: MiddlewareHandler = async (c, next) => {
    const incoming = incomingOf(c);
    if (incoming === undefined) {
      // Another runtime (Bun, Deno, Workers): no socket to read the client from. Say so once, go on.
      if (!warned) {
        warned = true;
        firewall.logger.warn({ adapter: 'hono' }, 'the Hono adapter needs @hono/node-server (c.env.incoming) to see ' +
          'the client socket; requests are not judged');
      }
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
