// WebSocket handshakes and other upgrade requests (`Connection: Upgrade`) never reach a request listener
// or a framework's middleware: node:http hands them to the server's 'upgrade' listeners (ws,
// socket.io, graphql-ws, Vite's and Next's dev servers), so a blocked address, path or user agent could
// open a socket there. CONNECT requests (tunnels; on HTTP/2 also WebSockets by extended CONNECT) go to
// the server's 'connect' listeners the same way. guardUpgrades() judges each one before any of those
// listeners sees it.

import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Firewall, Verdict } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { sendNodeResponse } from './send-node-response.js';

/** What guardUpgrades() needs of a server: node:http's and https's servers (Express's app.listen(), fastify.server, …). */
export interface UpgradeServer {
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

export interface UpgradeGuardOptions {
  /**
   * Ordinary requests whose raw target starts with one of these are judged at the server too, before any
   * request listener: for libraries that answer their own requests ahead of the app's listeners (and so
   * of its middleware), as socket.io does under `/socket.io/`. Judged once: those never reach the app.
   */
  requestPaths?: readonly string[];
}

export interface UpgradeGuard {
  readonly firewall: Firewall;
  /** Stops judging the server's upgrades (the server's own emit() is put back). */
  remove(): void;
}

/**
 * Judges every upgrade request of `server` before its 'upgrade' listeners run, and every CONNECT request
 * before its 'connect' listeners (node:http, https and node:http2 servers), whatever order they were
 * added in: those that should go on reach them unchanged (the request, the socket and the bytes that
 * followed the head), the others get Moat's answer (403, 429 with Retry-After, or your own) as an HTTP
 * response on the socket, which is then closed. Ordinary requests are left to your adapter or withMoat().
 */
export function guardUpgrades(server: UpgradeServer, options?: FirewallOrOptions, guard: UpgradeGuardOptions = {}): UpgradeGuard {
  const firewall = firewallFrom(options);
  const requestPaths = [...(guard.requestPaths ?? [])];
  const ownEmit = Object.prototype.hasOwnProperty.call(server, 'emit');
  const emit = server.emit;
  server.emit = function emitJudgingUpgrades(this: UpgradeServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' && requestPaths.length > 0) {
      const [req, res] = args as [IncomingMessage, ServerResponse];
      const url = req.url ?? '';
      if (!requestPaths.some((path) => url.startsWith(path))) return emit.call(this, event, ...args);
      // Synchronous, as the request listeners would be: a body is peeked before anyone reads it.
      const verdict = firewall.check(req);
      if (verdict === null) return emit.call(this, event, req, res);
      if (verdict instanceof Promise) verdict.then((settled) => (settled === null ? emit.call(this, event, req, res) : sendNodeResponse(res, settled)));
      else sendNodeResponse(res, verdict);
      return true;
    }
    if (event !== 'upgrade' && event !== 'connect') return emit.call(this, event, ...args);
    // node:http2's compatibility API hands 'connect' listeners a request and its response, not a socket.
    if (isResponse(args[1])) return judgeHttp2Connect(this, emit, firewall, args[0] as IncomingMessage, args[1]);
    const [req, socket, head] = args as [IncomingMessage, Duplex, Buffer];
    const verdict = firewall.checkUpgrade(req);
    if (verdict === null) return emit.call(this, event, req, socket, head);
    if (verdict instanceof Promise) {
      // node:http took its own error listener off the socket when it handed it over: until a listener
      // that adds one has it, an error there (the client gone) must not become an uncaught exception.
      socket.on('error', destroy);
      verdict.then((settled) => {
        socket.off('error', destroy);
        if (settled === null) emit.call(this, event, req, socket, head);
        else refuse(req, socket, settled);
      });
      return true;
    }
    refuse(req, socket, verdict);
    return true;
  };
  return {
    firewall,
    remove() {
      if (ownEmit) server.emit = emit;
      else delete (server as { emit?: unknown }).emit;
    },
  };
}

/** An HTTP/2 CONNECT stream (a tunnel, or a WebSocket by extended CONNECT): refused on its own stream. */
function judgeHttp2Connect(server: UpgradeServer, emit: UpgradeServer['emit'], firewall: Firewall, req: IncomingMessage,
  res: ServerResponse): boolean {
  const verdict = firewall.checkUpgrade(req);
  if (verdict === null) return emit.call(server, 'connect', req, res);
  if (verdict instanceof Promise) {
    verdict.then((settled) => (settled === null ? emit.call(server, 'connect', req, res) : sendNodeResponse(res, settled)));
  } else {
    sendNodeResponse(res, verdict);
  }
  return true;
}

function isResponse(value: unknown): value is ServerResponse {
  return typeof (value as { writeHead?: unknown } | null)?.writeHead === 'function';
}

/** Moat's answer written as an HTTP/1.1 response on the upgrade's socket, which is closed after it. */
function refuse(req: IncomingMessage, socket: Duplex, answer: NonNullable<Verdict>): void {
  socket.on('error', destroy);
  if (socket.destroyed) return;
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as never);
  res.on('finish', () => {
    res.detachSocket(socket as never);
    socket.end();
  });
  sendNodeResponse(res, answer);
}

function destroy(this: Duplex): void {
  this.destroy();
}
