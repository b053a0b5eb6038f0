// What a fetch handler's platform hands over besides the Request, and how Moat judges the request from
// it: the socket address (Bun, Deno), or the Node request itself (@hono/node-server). Shared by
// withMoatFetch and the Hono adapter; not an entry point of its own.

import type { IncomingMessage } from 'node:http';
import type { Firewall, Verdict, WebPeerless } from '../firewall/firewall.js';
import { nodeBodyFollows } from '../http/body-kind.js';

interface BunServerLike { requestIP(request: Request): { address: string } | null; readonly url?: unknown }
interface DenoInfoLike { remoteAddr: { transport: string; hostname?: string; port?: number } }
interface NodeServerEnvLike { incoming: { socket?: { remoteAddress?: string } } }
/**
 * Hono's AWS Lambda handler's env: the event's requestContext, which API Gateway or the load balancer
 * writes, not the client. An Application Load Balancer's names only its target group (`elb`).
 */
interface LambdaEnvLike { requestContext: { identity?: { sourceIp?: unknown }; http?: { sourceIp?: unknown }; elb?: { targetGroupArn?: unknown } } }
/** Netlify's Context (functions and edge functions), written by Netlify's edge; Hono's handler passes it as `{ context }`. */
interface NetlifyContextLike { ip?: unknown; requestId: string; geo: object }

/**
 * The socket address the platform gave a fetch handler in its second argument: Bun's `server`
 * (`requestIP`), Deno's `info` (`remoteAddr`), @hono/node-server's env (`incoming`), or on AWS Lambda
 * (Hono's handler) the source address API Gateway puts in the event (REST APIs: `identity.sourceIp`;
 * HTTP APIs and function URLs: `http.sourceIp`), or on Netlify the client address its Context names
 * (`ip`; Hono's handler passes the Context as `{ context }`). Undefined when none of these (an ALB event
 * names no source), and for a Unix socket or a peer already gone (platformPeerless tells which): the
 * firewall then treats the client as unknown. Never read from a header.
 */
export function platformClientIp(request: Request, context: unknown): string | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const bun = context as Partial<BunServerLike>;
  if (typeof bun.requestIP === 'function') return bun.requestIP(request)?.address ?? undefined;
  const deno = context as Partial<DenoInfoLike>;
  if (typeof deno.remoteAddr === 'object' && deno.remoteAddr !== null) {
    const remote = deno.remoteAddr;
    return remote.transport === 'tcp' && !denoPeerGone(remote) ? remote.hostname : undefined;
  }
  const lambda = (context as Partial<LambdaEnvLike>).requestContext;
  if (typeof lambda === 'object' && lambda !== null) {
    const source = lambda.identity?.sourceIp ?? lambda.http?.sourceIp;
    return typeof source === 'string' && source !== '' ? source : undefined;
  }
  const node = context as Partial<NodeServerEnvLike>;
  if (node.incoming !== undefined) return node.incoming?.socket?.remoteAddress;
  const netlify = netlifyContextOf(context);
  return typeof netlify?.ip === 'string' && netlify.ip !== '' ? netlify.ip : undefined;
}

/** Netlify's Context, handed over as is (a Netlify function's second argument) or as Hono's env `{ context }`. */
function netlifyContextOf(context: object): NetlifyContextLike | undefined {
  const inner = (context as { context?: unknown }).context;
  const candidate = (typeof inner === 'object' && inner !== null ? inner : context) as Partial<NetlifyContextLike>;
  return typeof candidate.requestId === 'string' && typeof candidate.geo === 'object' && candidate.geo !== null
    ? candidate as NetlifyContextLike : undefined;
}

/**
 * Why platformClientIp() found no address, for the rare request without one: `unix` for a Unix socket
 * (Deno's transport; a Bun server listening on one, whose url is `unix://…`), `closed` for a TCP peer
 * that is gone (Bun's requestIP() answers null, Deno reports `0.0.0.0` or `::` port 0), as Node's
 * closed connection: the request is answered 503 and never passed on, so a blocked client cannot send a
 * request and reset the connection to have it run unjudged. `aws-alb` for a Lambda function invoked by
 * an Application Load Balancer (Hono's env holds its event's requestContext, naming a target group):
 * only the X-Forwarded-For header it appends to names the client, read when `aws-alb` is trusted.
 * Undefined: the platform gave nothing.
 */
export function platformPeerless(context: unknown): WebPeerless | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const lambda = (context as Partial<LambdaEnvLike>).requestContext;
  if (typeof lambda === 'object' && lambda !== null) {
    const elb = lambda.elb;
    return typeof elb === 'object' && elb !== null && typeof elb.targetGroupArn === 'string' ? 'aws-alb' : undefined;
  }
  const bun = context as Partial<BunServerLike>;
  if (typeof bun.requestIP === 'function') {
    let url: unknown;
    try {
      url = bun.url;
    } catch {
      return 'closed';
    }
    return String(url).startsWith('unix:') ? 'unix' : 'closed';
  }
  const remote = (context as Partial<DenoInfoLike>).remoteAddr;
  if (typeof remote === 'object' && remote !== null) {
    if (remote.transport === 'unix') return 'unix';
    if (remote.transport === 'tcp' && denoPeerGone(remote)) return 'closed';
  }
  return undefined;
}

/** Deno's remoteAddr of a connection reset before the handler ran: the unspecified address, port 0. */
function denoPeerGone(remote: DenoInfoLike['remoteAddr']): boolean {
  return remote.port === 0 && (remote.hostname === '0.0.0.0' || remote.hostname === '::');
}

/**
 * The Node request behind a Web one, where the platform hands it over: @hono/node-server passes
 * `{ incoming, outgoing }` as the fetch handler's second argument (and as Hono's `c.env`). Its Request
 * is a wrapper around that IncomingMessage, so judging the IncomingMessage is the same decision by the
 * Node path: raw target and parsed headers read directly (no Headers.get() per name, no absolute URL
 * to split), the body peeked on the stream the wrapper reads later. Undefined elsewhere (Bun, Deno),
 * and when a header came more than once (see below).
 */
export function nodeRequestOf(context: unknown): IncomingMessage | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const incoming = incomingMessageOf((context as { incoming?: unknown }).incoming);
  return incoming !== undefined && eachHeaderOnce(incoming) && plainHost(incoming) ? incoming : undefined;
}

/**
 * False when the Host header holds a byte past ASCII. @hono/node-server builds the Request's url with
 * `new URL`, whose host mapping turns `ªdmin.example.com` into `admin.example.com` (same length, so its
 * own check lets it by), and Hono routes by that url: such a request goes to the Web path, which judges
 * the url's host as well as the header.
 */
function plainHost(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (host === undefined) return true;
  for (let i = 0; i < host.length; i++) if (host.charCodeAt(i) > 0x7e) return false;
  return true;
}

/** `candidate` when it has the shape of a Node request (shape, not instanceof: node:http is not imported, and it may come from another realm). */
export function incomingMessageOf(candidate: unknown): IncomingMessage | undefined {
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const req = candidate as Partial<IncomingMessage>;
  if (typeof req.headers !== 'object' || typeof req.url !== 'string' || !Array.isArray(req.rawHeaders)) return undefined;
  return candidate as IncomingMessage;
}

/**
 * True when no header name came twice. Node keeps the first of a repeated User-Agent, Host or
 * Content-Type, but the wrapper's Headers joins every copy (`Mozilla/5.0, EvilBot/2`), and that is what
 * the app reads: such a request goes to the Web path, which judges what the app sees. Counting the
 * parsed names against the raw lines costs a few property visits; repeats are rare.
 */
export function eachHeaderOnce(req: IncomingMessage): boolean {
  let names = 0;
  for (const _ in req.headers) names++;
  return names * 2 === req.rawHeaders.length;
}

/**
 * The Node request behind `request` when judging it by the Node path is the same decision, for
 * Firewall.handle() (platformClientInfo passes it on): @hono/node-server handed it over, it declares no
 * body (a body is the Web path's, read from a clone, as after the app may have read the stream), it
 * repeats no header name (nodeRequestOf), and `request` is still the wrapper built from it: the same
 * method, and its url the origin followed by the raw target. A Request the app made anew (a rewrite, a
 * changed method) and an absolute-form target go to the Web path. Timed in a Hono app on node-server
 * (bench/lib/web-path-ab.ts, interleaved blocks, three runs): handle() given this took 0.54–0.59× the
 * time of handle() given only the address, the Hono adapter 0.51–0.55×, check() alone 0.47–0.50×.
 */
export function nodeRequestWrapped(request: Request, context: unknown): IncomingMessage | undefined {
  const incoming = nodeRequestOf(context);
  if (incoming === undefined || nodeBodyFollows(incoming, incoming.headers) || request.method !== incoming.method) return undefined;
  const url = request.url;
  const target = incoming.url ?? '';
  const at = url.length - target.length;
  if (target[0] !== '/' || at <= 0 || !url.endsWith(target)) return undefined;
  // The target starts right after scheme://authority: nothing was put in front of it.
  const schemeEnd = url.indexOf('://');
  return schemeEnd > 0 && url.indexOf('/', schemeEnd + 3) === at ? incoming : undefined;
}

/** Judges a fetch handler's request: by the Node path when the platform handed over the IncomingMessage, else by the Web path. */
export function judgeFetchRequest(firewall: Firewall, request: Request, context: unknown): Verdict | Promise<Verdict> {
  const incoming = nodeRequestOf(context);
  if (incoming !== undefined) return firewall.check(incoming);
  return judgeByWebPath(firewall, request, context);
}

/**
 * `request` judged by the Web path, its client the one the platform names for `handed`, the Request the
 * platform handed over (Bun's requestIP() knows only that one); by default the same request.
 */
export function judgeByWebPath(firewall: Firewall, request: Request, context: unknown, handed = request): Verdict | Promise<Verdict> {
  const ip = platformClientIp(handed, context);
  if (ip !== undefined) return firewall.checkWeb(request, ip);
  const peerless = platformPeerless(context);
  return firewall.checkWeb(request, undefined, peerless === undefined ? undefined : { peerless });
}
