// Hono on any runtime: `app.use(moat({ rules: 'rules.moat' }))`. On @hono/node-server the Node request
// is taken from `c.env.incoming`, so the client IP comes from the real socket and the body is peeked
// before Hono reads it. Elsewhere (Bun.serve, Deno.serve) the Web request `c.req.raw` is judged with
// the Web path, the client address taken from what the runtime passed as `c.env` (Bun's server,
// Deno's info), never from a header. A body a middleware before Moat read through Hono (c.req.json(),
// text(), parseBody()) is judged from Hono's body cache, where the app's own readers find it. Only
// Hono's types are imported.

import type { HonoRequest, MiddlewareHandler, Next } from 'hono';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { toWebResponse } from '../http/web-response.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { judgeByWebPath, judgeFetchRequest } from './fetch-request.js';

export type MoatHonoMiddleware = MiddlewareHandler & { readonly firewall: Firewall };

export function moat(options?: FirewallOrOptions): MoatHonoMiddleware {
  const firewall = firewallFrom(options);
  // Not async: a request that goes on returns next()'s own promise (as Hono's body-limit middleware
  // does), so Moat adds no promise of its own to Hono's middleware chain. Where the runtime gives no
  // address (Workers), the client is unknown: counted in noPeerAddress, never read from a header.
  const middleware: MiddlewareHandler = (c, next) => {
    const verdict = c.req.raw.bodyUsed ? judgeCachedBody(firewall, c.req, c.env) : judgeFetchRequest(firewall, c.req.raw, c.env);
    if (verdict === null) return next();
    if (verdict instanceof Promise) return verdict.then<Response | void>((v) => goOnOrAnswer(v, next));
    return Promise.resolve(toWebResponse(verdict));
  };
  return Object.assign(middleware, { firewall });
}

function goOnOrAnswer(verdict: Verdict, next: Next): Promise<void> | Response {
  return verdict === null ? next() : toWebResponse(verdict);
}

/**
 * A request whose body something before Moat read through Hono: Hono keeps what it read in
 * `c.req.bodyCache` (a promise per reading: `arrayBuffer`, `text`, `json`, `formData`…), and every later
 * reader, the app's included, derives its body from the first entry, as `cloneRawRequest()` does. So that
 * body, rebuilt as a Request, is what Moat judges by the Web path, the client as the platform names it.
 * Nothing cached (the raw stream read directly) or a reading that failed (the app gets no body either):
 * judged as before, its body counted `unreadable`.
 */
async function judgeCachedBody(firewall: Firewall, req: HonoRequest, context: unknown): Promise<Verdict> {
  const raw = req.raw;
  let rebuilt: Request | null = null;
  try {
    rebuilt = await requestFromBodyCache(req);
  } catch {
    // The first reading failed (formData() of a body that is no form): no later reader gets a body either.
  }
  if (rebuilt === null) return judgeFetchRequest(firewall, raw, context);
  return judgeByWebPath(firewall, rebuilt, context, raw);
}

async function requestFromBodyCache(req: HonoRequest): Promise<Request | null> {
  const cache = req.bodyCache as Record<string, Promise<unknown> | undefined>;
  let first: string | undefined;
  for (const key in cache) {
    first = key;
    break;
  }
  const reading = first === undefined ? undefined : cache[first];
  if (reading === undefined) return null;
  const value = await reading;
  const headers = new Headers(req.raw.headers);
  headers.delete('content-length');
  headers.delete('transfer-encoding');
  let body: RequestInit['body'];
  if (first === 'json') body = JSON.stringify(value);
  else if (value instanceof FormData) {
    // Re-encoded as multipart with a boundary of its own, as Hono hands it on.
    headers.delete('content-type');
    body = value;
  } else if (typeof value === 'string' || value instanceof ArrayBuffer || value instanceof Blob || ArrayBuffer.isView(value)) body = value as RequestInit['body'];
  else return null;
  return new Request(req.raw.url, { method: req.raw.method, headers, body });
}
