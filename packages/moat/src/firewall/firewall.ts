// The framework-agnostic core every adapter calls: Node request in, "go on" (null) or an answer out.
// It owns the current engine, the counters and the decision listeners, and composes the other jobs:
// reading bodies (body-reading.ts), failing open or closed and reporting errors (problems.ts), and
// warning about the client-address configuration (address-warnings.ts). Judging is synchronous unless
// a body has to be read, so the common request costs no promise.

import type { Http2ServerRequest, IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Decision } from '../engine/decision.js';
import { Engine } from '../engine/engine.js';
import type { SharedRateLimitStore } from '../engine/shared-rate-limit-store.js';
import { BodyBusyError } from '../errors/moat-error.js';
import type { BodyToRead } from '../http/body-kind.js';
import { ClientIpResolver, peerlessSocketKind } from '../http/client-address.js';
import { RequestNormalizer, type MoatHttpRequest } from '../http/normalized-request.js';
import type { PeekedBody } from '../http/peek-body.js';
import { webHeaders, webMethodMayHaveBody } from '../http/web-request.js';
import { toWebResponse } from '../http/web-response.js';
import { TrustedProxies } from '../http/trusted-proxies.js';
import { ALB_PEER, AddressWarnings, ForwardingWatch, type Peerless } from './address-warnings.js';
import { BodyReading, type BodyAdded } from './body-reading.js';
import { chooseIpHeader, ipHeaderFromEnv, trustedProxiesFromEnv } from './client-address-options.js';
import { consoleLogger, silentLogger, type MoatLogger } from './logger.js';
import { checkOptionNames, FIREWALL_OPTION_NAMES } from './option-names.js';
import type {
  BlockResponse, DecisionListener, FirewallEngine, MoatErrorEvent, MoatErrorKind, MoatOptions, RateLimitUser,
} from './options.js';
import { asError, Problems } from './problems.js';
import { Responses } from './responses.js';
import { copyStats, emptyStats, type FirewallStats } from './stats.js';
import { DecisionTally } from './decision-counts.js';

/**
 * A decision listener as the firewall calls it: with the Node request too when it judged one (managed
 * mode tags it, to report its response status). Public listeners take the first two arguments.
 */
export type NodeDecisionListener = (decision: Decision, request: MoatHttpRequest, raw: IncomingMessage | undefined) => void;

/** null: the request goes on to the app. Otherwise the answer to send instead. */
export type Verdict = BlockResponse | null;

/** What the platform knows about a Web request's connection (see Firewall.handle). */
export interface WebClientInfo {
  /** The socket's remote address, as the platform reports it (Bun: server.requestIP(req), Deno: info.remoteAddr). */
  ip?: string;
  /**
   * The Node request this Request wraps, when judging it is the same decision: @hono/node-server hands
   * it over (`env.incoming`), and platformClientInfo() passes it on only for a request that declares no
   * body and repeats no header name. handle() then judges it by the Node path (check()), which reads
   * the parsed headers instead of asking the wrapper's Headers for each name (unless a rate limit counts
   * by the `user` option, which gets the Request on this front door).
   */
  incoming?: IncomingMessage;
  /** Why `ip` is missing, when the platform says (see WebRequestOrigin); platformClientInfo() fills it. */
  peerless?: WebPeerless;
}

/**
 * Why a Web request comes without the peer's address, when the platform says: `unix`, a Unix socket (a
 * trusted one reads the client-IP header, as on Node); `closed`, a TCP peer already gone (answered 503,
 * never passed on); `aws-alb`, a Lambda function invoked by an Application Load Balancer, whose event
 * names no address (with the `aws-alb` preset trusted, the client is read from X-Forwarded-For).
 */
export type WebPeerless = 'unix' | 'closed' | 'aws-alb';

/** What checkWeb() knows besides the address, for the rare requests that need it. */
export interface WebRequestOrigin {
  peerless?: WebPeerless;
}

const DEFAULT_LOG_INTERVAL_MS = 60_000;

export class Firewall {
  readonly trustedProxies: TrustedProxies;
  /** Shared rate-limit counters (the `rateLimitStore` option), handed to every engine the firewall builds. */
  readonly rateLimitStore: SharedRateLimitStore | null;
  private engine: FirewallEngine | null;
  private ownedEngine: FirewallEngine | null;
  private readonly normalizer: RequestNormalizer;
  private readonly responses: Responses;
  private readonly bodies: BodyReading;
  private readonly decisionListeners: DecisionListener[] = [];
  private readonly counters = emptyStats();
  /** Decisions by treatment and category (stats().decisions): one array slot per decision. */
  private readonly tally = new DecisionTally();
  /** Where Moat's events go (the `logger` option); adapters use it too. */
  readonly logger: MoatLogger;
  /** Fail open or closed, error listeners, the rate-bounded error log. */
  private readonly problems: Problems;
  private readonly addressWarnings: AddressWarnings;
  /** Watches for forwarding headers only while the user has said nothing about proxies; else null. */
  private readonly forwardingWatch: ForwardingWatch | null;
  /** Reads the client IP; the firewall asks it again for requests on a trusted Unix socket. */
  private readonly clientIp: ClientIpResolver;
  /** The `user` option: asked only while a rate limit counts by user (engine.rateLimitsByUser). */
  private readonly userOf: RateLimitUser | null;
  /**
   * The verdict of each HTTP/2 stream judged so far. One server may hand a stream to both front doors
   * (withMoat on its compatibility request and withMoatStream on its 'stream' event): the second takes
   * the first's verdict, so a stream is counted, rate-limited and reported once. Weak: a stream is freed with its session.
   */
  private readonly judgedStreams = new WeakMap<object, Verdict | Promise<Verdict>>();

  /** Throws an OptionError for an invalid option, a misspelt name included (option-names.ts). */
  constructor(options: MoatOptions = {}) {
    checkOptionNames(options, FIREWALL_OPTION_NAMES, 'createFirewall');
    const env = options.env ?? process.env;
    const now = options.now ?? Date.now;
    this.logger = options.logger === false ? silentLogger : options.logger ?? consoleLogger;
    const interval = options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.problems = new Problems(this.counters, options.failClosed === true, this.logger, interval, now);

    const fromEnv = trustedProxiesFromEnv(env);
    this.trustedProxies = TrustedProxies.from([...(options.trustedProxies ?? []), ...fromEnv]);
    const ipHeader = chooseIpHeader({
      ipHeader: options.ipHeader, ipHeaders: options.ipHeaders, fromEnv: ipHeaderFromEnv(env),
      presetHeaders: this.trustedProxies.presetHeaders,
    });
    if (ipHeader.deprecation !== null) this.logger.warn({}, ipHeader.deprecation);
    // Address warnings repeat less often than error logs: they describe the set-up, not a request.
    const warnInterval = interval * 10;
    const warnings = new AddressWarnings(ipHeader.header, this.trustedProxies, this.counters,
      this.problems, this.logger, now, warnInterval);
    this.addressWarnings = warnings;
    this.forwardingWatch = options.trustedProxies === undefined && fromEnv.length === 0
      ? new ForwardingWatch(this.logger, now, warnInterval) : null;
    this.clientIp = new ClientIpResolver(this.trustedProxies, ipHeader.header, this.counters,
      (peer, headers) => warnings.warnHeaderMissing(peer, headers));
    this.normalizer = new RequestNormalizer(this.clientIp);

    this.responses = new Responses(options.blocked, options.rateLimited);
    this.bodies = new BodyReading(options.body, this.counters);

    if (options.onDecision) this.decisionListeners.push(options.onDecision);
    if (options.onError) this.problems.listeners.push(options.onError);

    this.rateLimitStore = options.rateLimitStore ?? null;
    this.userOf = options.user ?? null;
    this.engine = options.engine ?? null;
    this.ownedEngine = null;
    if (this.engine === null) {
      // Legal (an engine may come later through setEngine), but far more often a forgotten option.
      if (!options.rules && !options.data) this.logger.warn({}, NOTHING_TO_JUDGE);
      try {
        this.engine = this.ownedEngine = Engine.open({
          rules: options.rules, data: options.data, dataMode: options.dataMode, now: options.now,
          sharedRateLimits: this.rateLimitStore,
        });
      } catch (error) {
        // Not a crash: the app runs, unjudged (or answering 503 with failClosed) until an engine is set.
        this.emitError('startup', asError(error));
      }
    }
  }

  /**
   * Judges a request. Returns null when it should go on to the app, or the answer to send. A promise
   * only when a body had to be read. Never throws and never rejects. `url` overrides `req.url` for
   * frameworks that rewrite it while routing (Express and Koa mounts); rules see the original target.
   */
  check(req: IncomingMessage | Http2ServerRequest, url?: string, parsedBody?: unknown): Verdict | Promise<Verdict> {
    // HTTP/2's compatibility request has what is read of a Node request (its stream is read the same way).
    const node = req as IncomingMessage;
    // Only HTTP/2's request has a stream; on an HTTP/1 request this is a missing property, one cached miss.
    const stream = (req as Partial<Http2ServerRequest>).stream;
    if (stream === undefined) return this.checkRead(node, node.method, url ?? node.url, node.headers, node.socket, parsedBody);
    const earlier = this.judgedStreams.get(stream);
    if (earlier !== undefined) return earlier;
    const verdict = this.checkRead(node, node.method, url ?? node.url, node.headers, node.socket, parsedBody);
    this.judgedStreams.set(stream, verdict);
    return verdict;
  }

  /**
   * check() with the request's fields read by the caller. Express swaps the prototype of every request
   * it handles, so each ordinary property read of one misses V8's caches (~0.2 µs warm, several times
   * that in a busy server, profiled); its adapter reads them with Reflect.get, a generic lookup that
   * skips the cache, and hands them over. `url`: the original target (rules see the whole path).
   */
  checkRead(req: IncomingMessage, method: string | undefined, url: string | undefined, headers: IncomingMessage['headers'],
    socket: IncomingMessage['socket'] | null | undefined, parsedBody?: unknown): Verdict | Promise<Verdict> {
    return this.judgeNode(req, method, url, headers, socket, parsedBody, true);
  }

  /**
   * Judges an upgrade request (a WebSocket handshake, which node:http hands to its 'upgrade' listeners,
   * never to a request listener or middleware) or a CONNECT request (a tunnel, handed to 'connect'
   * listeners): as check(), without reading a body (the socket is the upgraded protocol's or the
   * tunnel's), and reported without a response status (none follows). guardUpgrades() calls it.
   */
  checkUpgrade(req: IncomingMessage): Verdict | Promise<Verdict> {
    return this.judgeNode(req, req.method, req.url, req.headers, req.socket, undefined, false);
  }

  /**
   * Judges a stream of node:http2's core API (a server's 'stream' event, which no request listener sees):
   * as check(), from its headers (`:method`, `:path`, `:authority`), the session socket's address as the
   * client's, its body peeked on the stream itself. withMoatStream() calls it and answers a refused stream.
   * A stream check() already judged through its compatibility request gets that verdict, and the reverse.
   */
  checkStream(stream: ServerHttp2Stream, headers: Http2Headers): Verdict | Promise<Verdict> {
    const earlier = this.judgedStreams.get(stream);
    if (earlier !== undefined) return earlier;
    const method = headers[':method'];
    const path = headers[':path'];
    const verdict = this.judgeNode(stream as unknown as IncomingMessage, typeof method === 'string' ? method : undefined,
      typeof path === 'string' ? path : undefined, headers as IncomingMessage['headers'], stream.session?.socket, undefined, true);
    this.judgedStreams.set(stream, verdict);
    return verdict;
  }

  /** `http`: an ordinary request, whose body may be read and whose response status is reported. */
  private judgeNode(req: IncomingMessage, method: string | undefined, url: string | undefined, headers: IncomingMessage['headers'],
    socket: IncomingMessage['socket'] | null | undefined, parsedBody: unknown, http: boolean): Verdict | Promise<Verdict> {
    // One engine for the whole request, even if setEngine() swaps it while a body is read.
    const engine = this.engine;
    this.counters.requests++;
    let request: MoatHttpRequest;
    let body: BodyToRead | null = null;
    try {
      const wantsParams = engine !== null && needsParams(engine);
      request = this.normalizer.normalizeNodeParts(method ?? 'GET', url ?? '/', headers, socket?.remoteAddress, wantsParams);
      if (this.userOf !== null && engine?.rateLimitsByUser === true) request.user = this.userFor(this.userOf, req, request);
      if (request.ip === '') {
        // No peer address (a Unix socket, a closed connection): rare, so one comparison on the common path.
        const stop = this.withoutPeerAddress(peerlessSocketKind(socket), request);
        if (stop !== undefined) return stop;
      }
      if (this.forwardingWatch !== null) this.forwardingWatch.watchForForwardingHeaders(request);
      if (http && wantsParams && engine !== null && this.bodies.enabled) body = this.bodies.bodyToRead(req, headers, engine, parsedBody);
    } catch (error) {
      return this.cannotJudge(asError(error), undefined);
    }
    if (engine === null) {
      this.counters.noEngine++;
      return this.unjudged();
    }
    if (body !== null) return this.checkWithBody(this.bodies.peekNode(req, body), request, engine, body, req);
    return this.decide(engine, request, http ? req : undefined);
  }

  /**
   * Judges a Web-standard Request (Next.js proxy, Bun, Deno, h3, Hono on any runtime) the way check()
   * judges a Node request: null when it should go on, or the Response to send. `info.ip` is the
   * platform's socket address; without it the client is unknown (never taken from a header unless a
   * trusted proxy sent it). A form body is read from a clone, so the app still reads it. A promise
   * only when a body had to be read; never throws and never rejects.
   */
  handle(request: Request, info?: WebClientInfo): Response | null | Promise<Response | null> {
    const incoming = info?.incoming;
    // The `user` option is promised the Request on this front door: asked for one, the Web path judges.
    const byNodePath = incoming !== undefined && !(this.userOf !== null && this.engine?.rateLimitsByUser === true);
    const verdict = byNodePath ? this.check(incoming)
      : this.checkWeb(request, info?.ip, info?.peerless === undefined ? undefined : { peerless: info.peerless });
    if (verdict === null) return null;
    if (verdict instanceof Promise) return verdict.then(webAnswer);
    return toWebResponse(verdict);
  }

  /** handle() with Moat's own answer (status, headers, body) instead of a Response. */
  checkWeb(request: Request, ip: string | undefined, origin?: WebRequestOrigin): Verdict | Promise<Verdict> {
    const engine = this.engine;
    this.counters.requests++;
    let judged: MoatHttpRequest;
    let body: BodyToRead | null = null;
    try {
      const wantsParams = engine !== null && needsParams(engine);
      const headers = webHeaders(request.headers);
      judged = this.normalizer.normalizeWebParts(request.method, request.url, headers, ip, wantsParams);
      if (this.userOf !== null && engine?.rateLimitsByUser === true) judged.user = this.userFor(this.userOf, request, judged);
      if (judged.ip === '') {
        const stop = this.withoutPeerAddress(origin?.peerless ?? 'not-given', judged);
        if (stop !== undefined) return stop;
      }
      if (this.forwardingWatch !== null) this.forwardingWatch.watchForForwardingHeaders(judged);
      // A GET's or HEAD's Request has no body on the runtimes Moat knows: its headers are not asked for.
      if (wantsParams && engine !== null && this.bodies.enabled && webMethodMayHaveBody(judged.method)) body = this.bodies.webBodyToRead(request, headers, engine);
    } catch (error) {
      return this.cannotJudge(asError(error), undefined);
    }
    if (engine === null) {
      this.counters.noEngine++;
      return this.unjudged();
    }
    if (body !== null) return this.checkWithBody(this.bodies.peekWeb(request, body), judged, engine, body);
    return this.decide(engine, judged);
  }

  /** Swaps the engine (managed mode: a new rules file). Returns the previous one for the caller to close. */
  setEngine(engine: FirewallEngine | null): FirewallEngine | null {
    const previous = this.engine;
    this.engine = engine;
    if (previous === this.ownedEngine) this.ownedEngine = null;
    return previous;
  }

  get currentEngine(): FirewallEngine | null {
    return this.engine;
  }

  /** Adds a listener called with every decision; returns a function that removes it. */
  addDecisionListener(listener: DecisionListener): () => void {
    this.decisionListeners.push(listener);
    return () => remove(this.decisionListeners, listener);
  }

  /** Adds a listener called with every error event; returns a function that removes it. */
  addErrorListener(listener: (event: MoatErrorEvent) => void): () => void {
    this.problems.listeners.push(listener);
    return () => remove(this.problems.listeners, listener);
  }

  /** A snapshot of the counters. */
  stats(): FirewallStats {
    return copyStats(this.counters, this.tally);
  }

  /** Closes the engine the firewall opened itself (not one handed over via options or setEngine). */
  close(): void {
    const owned = this.ownedEngine;
    this.ownedEngine = null;
    if (this.engine === owned) this.engine = null;
    owned?.close?.();
  }

  /** Judges once the body (read by BodyReading) has been added to the request's parameters. */
  private async checkWithBody(peeked: Promise<PeekedBody | null>, request: MoatHttpRequest, engine: FirewallEngine, plan: BodyToRead,
    raw?: IncomingMessage): Promise<Verdict> {
    let added: BodyAdded;
    try {
      added = await this.bodies.addTo(request, peeked, plan, engine);
    } catch (error) {
      return this.cannotJudge(asError(error), request);
    }
    if (!added.busy) return this.decide(engine, request, raw, added.cut);
    // The inflated body waited its turn in vain (not an engine fault). Every other reading is judged; a
    // request they let through goes on without that one (fail open) or gets 503 (failClosed).
    this.problems.emit('engine', new BodyBusyError(), request);
    const verdict = await this.decide(engine, request, raw, added.cut);
    return verdict !== null ? verdict : this.problems.unjudged();
  }

  /**
   * `raw`: the Node request, when judging one (decision listeners get it: reporting tags it for its response
   * status). `cut`: its body was longer than the read limit (body.oversize then has its say).
   */
  private decide(engine: FirewallEngine, request: MoatHttpRequest, raw?: IncomingMessage, cut = false): Verdict | Promise<Verdict> {
    let decision: Decision;
    try {
      decision = engine.evaluate(request);
    } catch (error) {
      return this.cannotJudge(asError(error), request);
    }
    if (cut) decision = this.bodies.oversized(decision);
    if (decision.pendingRateLimits !== undefined && engine.settleRateLimits !== undefined) {
      return this.settleRateLimits(engine, decision, request, raw);
    }
    return this.finish(decision, request, raw);
  }

  /** Only requests that match a rate-limit rule, pass otherwise and have a shared store come here. */
  private async settleRateLimits(engine: FirewallEngine, pending: Decision, request: MoatHttpRequest, raw?: IncomingMessage): Promise<Verdict> {
    let decision: Decision;
    try {
      decision = await engine.settleRateLimits!(pending, (error) => {
        this.counters.rateLimitFallbacks++;
        this.emitError('rateLimitStore', error, request);
      });
    } catch (error) {
      return this.cannotJudge(asError(error), request);
    }
    return this.finish(decision, request, raw);
  }

  private finish(decision: Decision, request: MoatHttpRequest, raw?: IncomingMessage): Verdict {
    const counters = this.counters;
    if (decision.monitored.length > 0) counters.monitored++;
    this.tally.count(decision);
    const listeners = this.decisionListeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as NodeDecisionListener)(decision, request, raw);
      } catch (error) {
        this.hookFailed(asError(error), request);
      }
    }
    if (decision.treatment !== 'Blocked') {
      if (decision.treatment === 'Allowed') counters.allowed++;
      else counters.passed++;
      return null;
    }
    counters.blocked++;
    if (decision.category === 'brl') counters.rateLimited++;
    try {
      return this.responses.forBlocked(decision, request);
    } catch (error) {
      this.hookFailed(asError(error), request);
      return this.responses.fallback(decision);
    }
  }

  // The failure paths, handed to Problems (problems.ts); never on the common path.
  private cannotJudge(error: Error, request: MoatHttpRequest | undefined): Verdict {
    return this.problems.cannotJudge(error, request);
  }

  private unjudged(): Verdict {
    return this.problems.unjudged();
  }

  private hookFailed(error: Error, request: MoatHttpRequest): void {
    this.problems.hookFailed(error, request);
  }

  private emitError(kind: MoatErrorKind, error: Error, request?: MoatHttpRequest): void {
    this.problems.emit(kind, error, request);
  }

  /** The app's user id for `req`; a throw is a hook error and the request counts by IP. */
  private userFor(userOf: RateLimitUser, req: IncomingMessage | Request, request: MoatHttpRequest): string | undefined {
    try {
      const user = userOf(req);
      return typeof user === 'string' ? user : typeof user === 'number' ? String(user) : undefined;
    } catch (error) {
      this.hookFailed(asError(error), request);
      return undefined;
    }
  }

  /**
   * The socket had no peer address. A trusted Unix socket hands over to the client-IP header; anything
   * else is for AddressWarnings to count, report and answer (address-warnings.ts).
   */
  private withoutPeerAddress(kind: Peerless, request: MoatHttpRequest): Verdict | undefined {
    if (kind === 'unix' && this.trustedProxies.trustsUnixSocket && this.clientIp.readHeader(request.headers, request, '')) {
      return undefined;
    }
    if (kind === 'aws-alb' && this.trustedProxies.trustsAwsAlb && this.clientIp.readHeader(request.headers, request, ALB_PEER)) {
      return undefined;
    }
    return this.addressWarnings.withoutPeerAddress(kind, request);
  }
}

/** Creates a firewall. Throws only on invalid options (a bad trusted-proxy entry); a bad rules file is an error event. */
/** The start-up warning of a firewall given neither a rules file, a data file nor an engine. */
export const NOTHING_TO_JUDGE = 'moat was given no rules file, data file or engine: it lets every request through until ' +
  'it gets one (the `rules` option, or setEngine)';

export function createFirewall(options: MoatOptions = {}): Firewall {
  return new Firewall(options);
}

function webAnswer(verdict: Verdict): Response | null {
  return verdict === null ? null : toWebResponse(verdict);
}

function needsParams(engine: FirewallEngine): boolean {
  const rules = engine.rules;
  return rules === undefined || rules.params.size > 0 || rules.attacks != null;
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
