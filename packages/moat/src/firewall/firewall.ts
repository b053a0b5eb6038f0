// The framework-agnostic core every adapter calls: Node request in, "go on" (null) or an answer out.
// It owns the current engine, the counters, the listeners and the rate-bounded error log. Judging is
// synchronous unless a body has to be read, so the common request costs no promise.

import type { IncomingMessage } from 'node:http';
import type { Decision } from '../engine/decision.js';
import { Engine } from '../engine/engine.js';
import type { SharedRateLimitStore } from '../engine/shared-rate-limit-store.js';
import { bodyToRead, declaredBodyLength, type BodyToRead } from '../http/body-kind.js';
import { bodyParams } from '../http/body-params.js';
import { bodyText } from '../http/body-text.js';
import { inflateBody } from '../http/inflate-body.js';
import { ClientIpResolver, unmapIpv4 } from '../http/client-ip.js';
import { forwardingHeaderPresent } from '../http/forwarding-headers-present.js';
import { RequestNormalizer, type MoatHttpRequest } from '../http/normalized-request.js';
import { canPeekBody, peekBody, type PeekedBody } from '../http/peek-body.js';
import { joinParams } from '../http/request-params.js';
import { peerlessSocketKind, type PeerlessSocket } from '../http/socket-peer.js';
import { peekWebBody, webBodyState, webHeaders } from '../http/web-request.js';
import { toWebResponse } from '../http/web-response.js';
import { TrustedProxies } from '../http/trusted-proxies.js';
import { chooseIpHeader } from './client-ip-header-option.js';
import { ipHeaderFromEnv, trustedProxiesFromEnv } from './environment.js';
import { consoleLogger, silentLogger, type MoatLogger } from './logger.js';
import type {
  BlockResponse, DecisionListener, FirewallEngine, MoatErrorEvent, MoatErrorKind, MoatOptions, RateLimitUser,
} from './options.js';
import { RateBoundedLog } from './rate-bounded-log.js';
import { Responses, UNAVAILABLE } from './responses.js';
import { copyStats, emptyStats, type FirewallStats } from './stats.js';
import { DecisionTally } from './decision-counts.js';
import { MoatError } from '../errors/moat-error.js';
import { errorEventCode } from './error-event-code.js';

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
}

/** Why a request has no peer address: its socket's kind, or a Web request handed over without `info.ip`. */
type Peerless = PeerlessSocket | 'not-given';

const DEFAULT_BODY_LIMIT = 64 * 1024;
const DEFAULT_LOG_INTERVAL_MS = 60_000;

export class Firewall {
  readonly trustedProxies: TrustedProxies;
  /** Shared rate-limit counters (the `rateLimitStore` option), handed to every engine the firewall builds. */
  readonly rateLimitStore: SharedRateLimitStore | null;
  private engine: FirewallEngine | null;
  private ownedEngine: FirewallEngine | null;
  private readonly normalizer: RequestNormalizer;
  private readonly responses: Responses;
  private readonly failClosed: boolean;
  private readonly readsForms: boolean;
  private readonly readsJson: boolean;
  private readonly bodyLimit: number;
  private readonly decisionListeners: DecisionListener[] = [];
  private readonly errorListeners: ((event: MoatErrorEvent) => void)[] = [];
  private readonly counters = emptyStats();
  /** Decisions by treatment and category (stats().decisions): one array slot per decision. */
  private readonly tally = new DecisionTally();
  /** Where Moat's events go (the `logger` option); adapters use it too. */
  readonly logger: MoatLogger;
  private readonly log: RateBoundedLog;
  private readonly now: () => number;
  /** Watch for forwarding headers only while the user has said nothing about proxies. */
  private readonly watchForwarding: boolean;
  private readonly forwardingWarnIntervalMs: number;
  private nextForwardingCheck = 0;
  private nextHeaderMissingWarning = 0;
  /** Reads the client IP; the firewall asks it again for requests on a trusted Unix socket. */
  private readonly clientIp: ClientIpResolver;
  /** The `user` option: asked only while a rate limit counts by user (engine.rateLimitsByUser). */
  private readonly userOf: RateLimitUser | null;

  constructor(options: MoatOptions = {}) {
    const env = options.env ?? process.env;
    this.now = options.now ?? Date.now;
    this.logger = options.logger === false ? silentLogger : options.logger ?? consoleLogger;
    const interval = options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.log = new RateBoundedLog(interval, this.now);
    this.forwardingWarnIntervalMs = interval * 10;

    const fromEnv = trustedProxiesFromEnv(env);
    this.trustedProxies = TrustedProxies.from([...(options.trustedProxies ?? []), ...fromEnv]);
    this.watchForwarding = options.trustedProxies === undefined && fromEnv.length === 0;
    const ipHeader = chooseIpHeader({
      ipHeader: options.ipHeader, ipHeaders: options.ipHeaders, fromEnv: ipHeaderFromEnv(env),
      presetHeaders: this.trustedProxies.presetHeaders,
    });
    if (ipHeader.deprecation !== null) this.logger.warn({}, ipHeader.deprecation);
    this.clientIp = new ClientIpResolver(this.trustedProxies, ipHeader.header, this.counters,
      (peer, headers) => this.warnHeaderMissing(peer, headers));
    this.normalizer = new RequestNormalizer(this.clientIp);

    this.responses = new Responses(options.blocked, options.rateLimited);
    this.failClosed = options.failClosed === true;
    this.readsForms = options.body?.form !== false;
    this.readsJson = options.body?.json === true;
    this.bodyLimit = Math.max(0, options.body?.limit ?? DEFAULT_BODY_LIMIT);

    if (options.onDecision) this.decisionListeners.push(options.onDecision);
    if (options.onError) this.errorListeners.push(options.onError);

    this.rateLimitStore = options.rateLimitStore ?? null;
    this.userOf = options.user ?? null;
    this.engine = options.engine ?? null;
    this.ownedEngine = null;
    if (this.engine === null) {
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
  check(req: IncomingMessage, url?: string): Verdict | Promise<Verdict> {
    // One engine for the whole request, even if setEngine() swaps it while a body is read.
    const engine = this.engine;
    this.counters.requests++;
    let request: MoatHttpRequest;
    let body: BodyToRead | null = null;
    try {
      const wantsParams = engine !== null && needsParams(engine);
      // req.headers read once: on Express every request has its own hidden class (its prototype is
      // swapped), so each property read on req misses V8's caches (~0.5–1 µs each, measured in an app).
      const headers = req.headers;
      request = this.normalizer.normalize(req, wantsParams, url, headers);
      if (this.userOf !== null && engine?.rateLimitsByUser === true) request.user = this.userFor(this.userOf, req, request);
      if (request.ip === '') {
        // No peer address (a Unix socket, a closed connection): rare, so one comparison on the common path.
        const stop = this.withoutPeerAddress(peerlessSocketKind(req.socket), request);
        if (stop !== undefined) return stop;
      }
      if (this.watchForwarding) this.watchForForwardingHeaders(request);
      if (wantsParams && (this.readsForms || this.readsJson)) body = this.bodyToRead(req, headers);
    } catch (error) {
      return this.cannotJudge(asError(error), undefined);
    }
    if (engine === null) {
      this.counters.noEngine++;
      return this.unjudged();
    }
    if (body !== null) return this.checkWithBody(peekBody(req, this.bodyLimit), request, engine, body, req);
    return this.decide(engine, request, req);
  }

  /**
   * Judges a Web-standard Request (Next.js proxy, Bun, Deno, h3, Hono on any runtime) the way check()
   * judges a Node request: null when it should go on, or the Response to send. `info.ip` is the
   * platform's socket address; without it the client is unknown (never taken from a header unless a
   * trusted proxy sent it). A form body is read from a clone, so the app still reads it. A promise
   * only when a body had to be read; never throws and never rejects.
   */
  handle(request: Request, info?: WebClientInfo): Response | null | Promise<Response | null> {
    const verdict = this.checkWeb(request, info?.ip);
    if (verdict === null) return null;
    if (verdict instanceof Promise) return verdict.then(webAnswer);
    return toWebResponse(verdict);
  }

  /** handle() with Moat's own answer (status, headers, body) instead of a Response. */
  checkWeb(request: Request, ip: string | undefined): Verdict | Promise<Verdict> {
    const engine = this.engine;
    this.counters.requests++;
    let judged: MoatHttpRequest;
    let body: BodyToRead | null = null;
    try {
      const wantsParams = engine !== null && needsParams(engine);
      const headers = webHeaders(request.headers);
      judged = this.normalizer.normalizeParts(request.method, request.url, headers, ip, wantsParams);
      if (this.userOf !== null && engine?.rateLimitsByUser === true) judged.user = this.userFor(this.userOf, request, judged);
      if (judged.ip === '') {
        const stop = this.withoutPeerAddress('not-given', judged);
        if (stop !== undefined) return stop;
      }
      if (this.watchForwarding) this.watchForForwardingHeaders(judged);
      if (wantsParams && (this.readsForms || this.readsJson) && headers['content-length'] !== '0') {
        body = this.bodyPlan(headers);
        if (body !== null) {
          const state = webBodyState(request);
          if (state !== 'readable') {
            if (state === 'unreadable') this.counters.bodiesUninspected.unreadable++;
            body = null;
          }
        }
      }
    } catch (error) {
      return this.cannotJudge(asError(error), undefined);
    }
    if (engine === null) {
      this.counters.noEngine++;
      return this.unjudged();
    }
    if (body !== null) return this.checkWithBody(peekWebBody(request, this.bodyLimit), judged, engine, body);
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
    this.errorListeners.push(listener);
    return () => remove(this.errorListeners, listener);
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

  /**
   * The body to read for parameter rules, or null. Any method with a declared body qualifies, GET and
   * HEAD too: body-parser reads a GET's form body, so an app may act on it. What cannot be read is counted.
   */
  private bodyToRead(req: IncomingMessage, headers: IncomingMessage['headers']): BodyToRead | null {
    if (declaredBodyLength(headers) === 0) return null;
    const plan = this.bodyPlan(headers);
    if (plan !== null && !canPeekBody(req)) {
      this.counters.bodiesUninspected.unreadable++;
      return null;
    }
    return plan;
  }

  /** How to read a body by its headers alone, or null; a body Moat cannot judge is counted. */
  private bodyPlan(headers: IncomingMessage['headers']): BodyToRead | null {
    const plan = bodyToRead(headers, this.readsJson);
    if (plan === null) return null;
    if (typeof plan === 'string') {
      this.counters.bodiesUninspected[plan]++;
      return null;
    }
    if (plan.kind === 'form' && !this.readsForms) return null;
    return plan;
  }

  private async checkWithBody(peeked: Promise<PeekedBody | null>, request: MoatHttpRequest, engine: FirewallEngine, plan: BodyToRead,
    raw?: IncomingMessage): Promise<Verdict> {
    let body = await peeked;
    if (body !== null) {
      // Inflated as the app's body parser would; at most bodyLimit bytes come out, whatever went in.
      if (plan.coding !== 'identity') body = await inflateBody(body, plan.coding, this.bodyLimit);
      const counters = this.counters;
      counters.bodiesInspected++;
      if (!body.complete) {
        counters.bodiesTruncated++;
        counters.bodiesUninspected.tooLarge++;
      }
      try {
        request.params = joinParams(request.params, bodyParams(body, plan.kind, plan.charset));
        // Attack detection reads the body field by field (attacks/request-attacks.ts), not the joined params.
        if (engine.rules?.attacks) request.body = { kind: plan.kind, text: plan.kind === 'form' ? body.bytes.toString('latin1') : bodyText(body.bytes, plan.charset) };
      } catch (error) {
        return this.cannotJudge(asError(error), request);
      }
    }
    return this.decide(engine, request, raw);
  }

  /** `raw`: the Node request, when judging one (decision listeners get it: reporting tags it for its response status). */
  private decide(engine: FirewallEngine, request: MoatHttpRequest, raw?: IncomingMessage): Verdict | Promise<Verdict> {
    let decision: Decision;
    try {
      decision = engine.evaluate(request);
    } catch (error) {
      return this.cannotJudge(asError(error), request);
    }
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

  /** Fail open (counted, logged at a bounded rate) or, with failClosed, answer 503. */
  private cannotJudge(error: Error, request: MoatHttpRequest | undefined): Verdict {
    this.counters.engineErrors++;
    this.emitError('engine', error, request);
    return this.unjudged();
  }

  private unjudged(): Verdict {
    if (this.failClosed) {
      this.counters.failedClosed++;
      return UNAVAILABLE;
    }
    this.counters.failedOpen++;
    return null;
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

  private hookFailed(error: Error, request: MoatHttpRequest): void {
    this.counters.hookErrors++;
    this.emitError('hook', error, request);
  }

  private emitError(kind: MoatErrorKind, error: Error, request?: MoatHttpRequest): void {
    const code = errorEventCode(kind, error);
    const event: MoatErrorEvent = request === undefined ? { kind, code, error } : { kind, code, error, request };
    for (const listener of this.errorListeners) {
      try {
        listener(event);
      } catch {
        // An error handler that throws must not turn into a request failure.
      }
    }
    if (kind === 'startup') {
      this.logger.error({ err: error, code }, 'moat could not load its rules; requests are not judged until it can' +
        (this.failClosed ? ' (answering 503: failClosed)' : ' (failing open)'));
      return;
    }
    this.log.report(kind, (suppressed) => {
      const context: Record<string, unknown> = { err: error, code, kind, suppressed, failClosed: this.failClosed };
      if (request !== undefined) context.request = { method: request.method, path: request.path, ip: request.ip };
      this.logger.error(context, kind === 'engine'
        ? 'moat could not judge a request' + (this.failClosed ? '; answered 503' : '; let it through')
        : kind === 'rateLimitStore'
          ? 'the shared rate-limit store did not answer in time; this process counted the request\'s rate limits itself'
          : kind === 'configuration' ? error.message : 'a moat hook threw; the request went on');
    });
  }

  /**
   * The socket had no peer address, so IP rules have nothing to match. A trusted Unix socket hands over
   * to the client-IP header; an untrusted one is a configuration error (event, counted, 503 with
   * failClosed); a connection already closed is not passed on: nobody waits for the answer, and the app
   * must not act on a request judged without its address.
   */
  private withoutPeerAddress(kind: Peerless, request: MoatHttpRequest): Verdict | undefined {
    if (kind === 'unix' && this.trustedProxies.trustsUnixSocket && this.clientIp.readHeader(request.headers, request, '')) {
      return undefined;
    }
    this.counters.noPeerAddress++;
    if (kind === 'closed') return UNAVAILABLE;
    this.log.report(`configuration:${kind}`, (suppressed) => {
      const header = this.clientIp.header;
      const problem = kind === 'unix'
        ? this.trustedProxies.trustsUnixSocket
          ? `a request on the trusted Unix socket had no usable ${header} header`
          : 'the app listens on a Unix socket, so requests have no client address, and trustedProxies does not ' +
            `list 'unix'. If a local proxy forwards to this socket, add 'unix' to trustedProxies and set ipHeader to the header it writes (now ${header})`
        : kind === 'not-given'
          ? 'a Web request was judged without its client address (handle(request, { ip }) got no ip); pass the ' +
            'platform\'s socket address'
          : 'a request\'s socket has no peer address (not a TCP or Unix socket Moat recognises)';
      this.emitError('configuration', new MoatError('MOAT_ERR_CLIENT_ADDRESS', `moat: ${problem}; IP rules cannot run` +
        (this.failClosed ? ', answering 503 (failClosed)' : ', judging by the other rules') +
        (suppressed > 0 ? ` (${suppressed} more such requests since the last report)` : '')), request);
    });
    return this.failClosed ? this.unjudged() : undefined;
  }

  /** Called by the resolver when a trusted proxy sent no usable client-IP header (counted there). */
  private warnHeaderMissing(peer: string, headers: IncomingMessage['headers']): void {
    const header = this.clientIp.header;
    const other = forwardingHeaderPresent(headers, header);
    // Health checks carry no forwarding header at all: counted, not worth a warning.
    if (other === null && headers[header] === undefined) return;
    const now = this.now();
    if (now < this.nextHeaderMissingWarning) return;
    this.nextHeaderMissingWarning = now + this.forwardingWarnIntervalMs;
    const from = peer === '' ? 'the trusted Unix socket' : `trusted proxy ${peer}`;
    this.logger.warn({ peer, header, other }, `a request from ${from} has no usable ${header} header, so Moat judged ` +
      'it by the proxy\'s address' + (other === null ? '.' : `. It carries ${other}: if your proxy writes that ` +
      `header, set ipHeader: '${other}' (Moat reads exactly one header and never falls back to another).`));
  }

  private watchForForwardingHeaders(request: MoatHttpRequest): void {
    const header = forwardingHeaderPresent(request.headers);
    if (header === null) return;
    // A forwarding header naming the peer itself comes from the server, not a proxy (`next start` writes one).
    if (header === 'x-forwarded-for' && unmapIpv4(String(request.headers[header])) === request.ip) return;
    const now = this.now();
    if (now < this.nextForwardingCheck) return;
    this.nextForwardingCheck = now + this.forwardingWarnIntervalMs;
    this.logger.warn({ peer: request.ip, header }, `a request from ${request.ip} carries ${header}, but no proxy is ` +
      'trusted, so Moat judges the proxy\'s address instead of the client\'s. Set trustedProxies (or ' +
      'TRUSTED_PROXY_RANGES) to your proxies and ipHeader to the header they write; if clients reach the app ' +
      'directly, set trustedProxies: [] to silence this.');
  }
}

/** Creates a firewall. Throws only on invalid options (a bad trusted-proxy entry); a bad rules file is an error event. */
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
