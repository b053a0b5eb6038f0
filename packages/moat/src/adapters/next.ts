// Next.js on the Node runtime, behind a custom server: Moat judges each request before Next routes it.
//   const app = next({ dev: false }); await app.prepare();
//   createServer(moatForNext(app, { rules: 'rules.moat' })).listen(3000);
// Blocked requests never reach Next (its middleware, pages or route handlers); the others go to Next's
// request handler untouched, bodies included, so route handlers still read forms with request.formData().
// Next is not imported, not even its types: apps without Next do not need it to use or compile Moat.
// Next's edge runtime cannot load SQLite, so edge middleware is not a place for Moat.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FirewallOrOptions } from './firewall-from.js';
import { withMoat, type ProtectedNodeHandler } from './node.js';

/** The part of a Next.js server (what `next({ ... })` returns) Moat uses. */
export interface NextAppLike {
  getRequestHandler(): (req: IncomingMessage, res: ServerResponse) => unknown;
}

/** A node:http handler that judges each request and hands the rest to Next. Call after `app.prepare()`. */
export function moatForNext(app: NextAppLike, options?: FirewallOrOptions): ProtectedNodeHandler<IncomingMessage, ServerResponse> {
  const handle = app.getRequestHandler();
  return withMoat((req, res) => {
    // Next answers its own errors (500 page); like Next's documented custom server, the promise is not awaited.
    void handle(req, res);
  }, options);
}
