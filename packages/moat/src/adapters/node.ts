// node:http: wrap a request handler. `http.createServer(withMoat(handler, { rules: 'rules.moat' }))`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { sendNodeResponse } from './send-node-response.js';

export type NodeHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> =
  (req: Req, res: Res) => void;

export type ProtectedNodeHandler<Req extends IncomingMessage, Res extends ServerResponse> =
  NodeHandler<Req, Res> & { readonly firewall: Firewall };

/**
 * Returns a handler that judges each request and calls `handler` only for those that go on. The first
 * form takes any handler of a plain Node request, an Express app included (`app` has several
 * call signatures, and inference would pick Express's `(req: Request, …)` one): judging in the
 * listener, before the framework, is the cheapest place (docs/performance.md).
 */
export function withMoat(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options?: FirewallOrOptions,
): ProtectedNodeHandler<IncomingMessage, ServerResponse>;
/** HTTP/2 through node:http2's compatibility API (`http2.createServer(withMoat(handler))`), the same judging. */
export function withMoat(
  handler: (req: Http2ServerRequest, res: Http2ServerResponse) => unknown,
  options?: FirewallOrOptions,
): ((req: Http2ServerRequest, res: Http2ServerResponse) => void) & { readonly firewall: Firewall };
export function withMoat<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  handler: NodeHandler<Req, Res>,
  options?: FirewallOrOptions,
): ProtectedNodeHandler<Req, Res>;
export function withMoat<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  handler: NodeHandler<Req, Res>,
  options?: FirewallOrOptions,
): ProtectedNodeHandler<Req, Res> {
  const firewall = firewallFrom(options);
  const settle = (req: Req, res: Res, verdict: Verdict) => {
    if (verdict === null) handler(req, res);
    else sendNodeResponse(res, verdict);
  };
  const wrapped = (req: Req, res: Res) => {
    const verdict = firewall.check(req);
    if (verdict instanceof Promise) verdict.then((v) => settle(req, res, v));
    else settle(req, res, verdict);
  };
  return Object.assign(wrapped, { firewall });
}

/** Another name for withMoat, as the hub's setup snippets write it. */
export const protect = withMoat;

export { guardUpgrades, type UpgradeGuard, type UpgradeGuardOptions, type UpgradeServer } from './upgrades.js';
