// node:http: wrap a request handler. `http.createServer(withMoat(handler, { rules: 'rules.moat' }))`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { sendNodeResponse, sendStreamResponse } from './send-node-response.js';

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
    if (verdict instanceof Promise) {
      continueIfAwaited(res);
      verdict.then((v) => settle(req, res, v));
    } else settle(req, res, verdict);
  };
  return Object.assign(wrapped, { firewall });
}

/**
 * A body is being read. A client that sent `Expect: 100-continue` sends it only once told to: Node tells it
 * before emitting 'request', but not before a 'checkContinue' listener (`server.on('checkContinue',
 * withMoat(handler))`), which must write the 100 itself. Moat reads first, so it writes it there; a request
 * refused without its body (a blocked path or address) is answered at once, the body never sent. Node's
 * response marks both (`_expect_continue`, `_sent100`); other servers, and HTTP/2, are left as they are.
 */
function continueIfAwaited(res: ServerResponse): void {
  const node = res as unknown as { _expect_continue?: unknown; _sent100?: unknown };
  if (node._expect_continue === true && node._sent100 === false) res.writeContinue();
}

export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => unknown;

/**
 * node:http2's core API: wraps a 'stream' listener (`server.on('stream', withMoatStream(handler))`),
 * which no request listener or middleware sees. Each stream is judged from its headers, its body peeked
 * on the stream (the handler still reads it whole); one that should go on reaches `handler` with every
 * argument, the others get Moat's answer on the stream. For `http2.createServer(handler)` (the
 * compatibility API) use withMoat().
 */
export function withMoatStream(handler: StreamHandler, options?: FirewallOrOptions): ((...args: Parameters<StreamHandler>) => void) & { readonly firewall: Firewall } {
  const firewall = firewallFrom(options);
  const wrapped = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    const verdict = firewall.checkStream(stream, headers);
    if (verdict === null) {
      handler(stream, headers, flags, rawHeaders);
      return;
    }
    if (!(verdict instanceof Promise)) {
      refuseStream(stream, verdict);
      return;
    }
    // Until the handler has the stream, an error on it (the client reset it while its body was read) is
    // Moat's to catch: with no listener, node:http2 would throw it and take the process down.
    stream.on('error', ignoreError);
    verdict.then((settled) => {
      if (settled !== null) {
        refuseStream(stream, settled);
        return;
      }
      stream.off('error', ignoreError);
      handler(stream, headers, flags, rawHeaders);
    });
  };
  return Object.assign(wrapped, { firewall });
}

/**
 * A refused stream is Moat's: its errors (a reset after the answer) are caught, and after the answer its
 * body is discarded and the stream closed with NO_ERROR (RFC 9113 §8.1), which tells a client still
 * sending to stop: a body no one reads would keep the stream, and its session, open.
 */
function refuseStream(stream: ServerHttp2Stream, answer: NonNullable<Verdict>): void {
  stream.on('error', ignoreError);
  sendStreamResponse(stream, answer);
  stream.resume();
  stream.close(); // NO_ERROR, the default code
}

function ignoreError(): void {
  // A client that resets its stream is not the server's failure.
}

/** Another name for withMoat, as the hub's setup snippets write it. */
export const protect = withMoat;

export { guardUpgrades, type UpgradeGuard, type UpgradeGuardOptions, type UpgradeServer } from './upgrades.js';
