// Hono on any runtime: `app.use(moat({ rules: 'rules.moat' }))`. On @hono/node-server the Node request
// is taken from `c.env.incoming`, so the client IP comes from the real socket and the body is peeked
// before Hono reads it. Elsewhere (Bun.serve, Deno.serve) the Web request `c.req.raw` is judged with
// the Web path, the client address taken from what the runtime passed as `c.env` (Bun's server,
// Deno's info), never from a header. Only Hono's types are imported.

import type { MiddlewareHandler, Next } from 'hono';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { judgeFetchRequest } from './fetch-request.js';

export type MoatHonoMiddleware = MiddlewareHandler & { readonly firewall: Firewall };

export function moat(options?: FirewallOrOptions): MoatHonoMiddleware {
  const firewall = firewallFrom(options);
  // Not async: a request that goes on returns next()'s own promise (as Hono's body-limit middleware
  // does), so Moat adds no promise of its own to Hono's middleware chain. Where the runtime gives no
  // address (Workers), the client is unknown: counted in noPeerAddress, never read from a header.
  const middleware: MiddlewareHandler = (c, next) => {
    const verdict = judgeFetchRequest(firewall, c.req.raw, c.env);
    if (verdict === null) return next();
    if (verdict instanceof Promise) return verdict.then<Response | void>((v) => goOnOrAnswer(v, next));
    return Promise.resolve(toWebResponse(verdict));
  };
  return Object.assign(middleware, { firewall });
}

function goOnOrAnswer(verdict: Verdict, next: Next): Promise<void> | Response {
  return verdict === null ? next() : toWebResponse(verdict);
}
