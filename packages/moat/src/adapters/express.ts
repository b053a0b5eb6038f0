// Express (4 and 5): `app.use(moat({ rules: 'rules.moat' }))`, before routes and body parsers.
// Types are written out rather than imported, so Express is not needed to compile this file.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Firewall } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { sendNodeResponse } from './send-node-response.js';

export type ExpressMiddleware = ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) & {
  readonly firewall: Firewall;
};

export function moat(options?: FirewallOrOptions): ExpressMiddleware {
  const firewall = firewallFrom(options);
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
    // Inside app.use('/prefix', …) Express strips the prefix from req.url; rules see the whole path.
    const verdict = firewall.check(req, (req as { originalUrl?: string }).originalUrl);
    if (verdict instanceof Promise) {
      verdict.then((v) => (v === null ? next() : sendNodeResponse(res, v)));
    } else if (verdict === null) {
      next();
    } else {
      sendNodeResponse(res, verdict);
    }
  };
  return Object.assign(middleware, { firewall });
}
