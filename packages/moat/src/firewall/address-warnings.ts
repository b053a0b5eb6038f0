// Warnings about how the client's address is configured, each at a bounded rate. Three mistakes look
// alike from inside the app: it sits behind a proxy but trusts none (every request seems to come from
// the proxy, so IP rules and rate limits hit the proxy instead of clients); a trusted proxy writes
// another header than the one Moat reads; or requests arrive with no peer address at all.

import type { IncomingHttpHeaders } from 'node:http';
import { MoatError } from '../errors/moat-error.js';
import { FORWARDING_HEADERS, unmapIpv4, type ForwardingHeader, type PeerlessSocket } from '../http/client-address.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { TrustedProxies } from '../http/trusted-proxies.js';
import type { MoatLogger } from './logger.js';
import type { BlockResponse } from './options.js';
import { UNAVAILABLE } from './responses.js';
import type { Problems } from './problems.js';
import type { FirewallCounters } from './stats.js';

/**
 * Why a request has no peer address: its socket's kind, a Web request handed over without `info.ip`, or
 * one an AWS Application Load Balancer passed to a Lambda function (`aws-alb`: the event names no address).
 */
export type Peerless = PeerlessSocket | 'not-given' | 'aws-alb';

/**
 * While no proxy is trusted, one request in this many is looked at for forwarding headers (the first
 * request included). Reading the six headers costs six property reads on Node and six Headers.get()
 * calls on the Web path, too much for every request of an app that needs no warning. A deployment
 * behind a proxy, where every request carries a header, is warned on its first request and again
 * within this many requests after each warning interval. Prime, so traffic that alternates in a short
 * cycle (a health check every other request) cannot hide from the samples.
 */
export const FORWARDING_LOOK_EVERY = 61;

/** The first forwarding header the request carries (other than `except`), or null. A handful of property reads. */
export function forwardingHeaderPresent(headers: IncomingHttpHeaders, except?: ForwardingHeader): ForwardingHeader | null {
  for (const name of FORWARDING_HEADERS) if (name !== except && headers[name] !== undefined) return name;
  return null;
}

/** "Behind a proxy?": watches requests for forwarding headers while the user has said nothing about proxies. */
export class ForwardingWatch {
  private countdown = 1;
  private nextWarning = 0;

  constructor(
    private readonly logger: MoatLogger,
    private readonly now: () => number,
    private readonly warnIntervalMs: number,
  ) {}

  /** Called for every request; a countdown, so all but one request in FORWARDING_LOOK_EVERY cost one decrement. */
  watchForForwardingHeaders(request: MoatHttpRequest): void {
    if (--this.countdown !== 0) return;
    this.countdown = FORWARDING_LOOK_EVERY;
    this.look(request);
  }

  private look(request: MoatHttpRequest): void {
    const header = forwardingHeaderPresent(request.headers);
    if (header === null) return;
    // A forwarding header naming the peer itself comes from the server, not a proxy (`next start` writes one).
    if (header === 'x-forwarded-for' && unmapIpv4(String(request.headers[header])) === request.ip) return;
    const now = this.now();
    if (now < this.nextWarning) return;
    this.nextWarning = now + this.warnIntervalMs;
    this.logger.warn({ peer: request.ip, header }, `a request from ${request.ip} carries ${header}, but no proxy is ` +
      'trusted, so Moat judges the proxy\'s address instead of the client\'s. Set trustedProxies (or ' +
      'TRUSTED_PROXY_RANGES) to your proxies and ipHeader to the header they write; if clients reach the app ' +
      'directly, set trustedProxies: [] to silence this.');
  }
}

/** What stands for the peer's address in a header warning about an ALB-invoked Lambda's request (it names none). */
export const ALB_PEER = 'aws-alb';

/** The rare requests whose client address cannot be read as configured. */
export class AddressWarnings {
  private nextHeaderMissingWarning = 0;

  constructor(
    /** The one client-IP header trusted proxies are read from. */
    private readonly header: ForwardingHeader,
    private readonly trusted: Pick<TrustedProxies, 'trustsUnixSocket' | 'trustsAwsAlb'>,
    private readonly counters: FirewallCounters,
    private readonly problems: Problems,
    private readonly logger: MoatLogger,
    private readonly now: () => number,
    private readonly warnIntervalMs: number,
  ) {}

  /**
   * A request without a peer address that no trusted Unix socket or load balancer vouched for: IP rules have nothing to
   * match. An untrusted Unix socket is a configuration error (event, counted, 503 with failClosed); a
   * connection already closed is not passed on: nobody waits for the answer, and the app must not act
   * on a request judged without its address. Undefined: judge the request on.
   */
  withoutPeerAddress(kind: Peerless, request: MoatHttpRequest): BlockResponse | null | undefined {
    this.counters.noPeerAddress++;
    if (kind === 'closed') return UNAVAILABLE;
    const failClosed = this.problems.failClosed;
    this.problems.log.report(`configuration:${kind}`, (suppressed) => {
      const header = this.header;
      const problem = kind === 'unix'
        ? this.trusted.trustsUnixSocket
          ? `a request on the trusted Unix socket had no usable ${header} header`
          : 'the app listens on a Unix socket, so requests have no client address, and trustedProxies does not ' +
            `list 'unix'. If a local proxy forwards to this socket, add 'unix' to trustedProxies and set ipHeader to the header it writes (now ${header})`
        : kind === 'aws-alb'
          ? this.trusted.trustsAwsAlb
            ? `a request from the Application Load Balancer had no usable ${header} header`
            : 'an Application Load Balancer invoked this Lambda function: its event names no client address, only ' +
              'the X-Forwarded-For header the load balancer appends the client to. Add \'aws-alb\' to trustedProxies to ' +
              'read it (with the load balancer\'s X-Forwarded-For processing left in its default `append` mode)'
        : kind === 'not-given'
          ? 'a Web request was judged without its client address (handle(request, { ip }) got no ip); pass the ' +
            'platform\'s socket address'
          : 'a request\'s socket has no peer address (not a TCP or Unix socket Moat recognises)';
      this.problems.emit('configuration', new MoatError('MOAT_ERR_CLIENT_ADDRESS', `moat: ${problem}; IP rules cannot run` +
        (failClosed ? ', answering 503 (failClosed)' : ', judging by the other rules') +
        (suppressed > 0 ? ` (${suppressed} more such requests since the last report)` : '')), request);
    });
    return failClosed ? this.problems.unjudged() : undefined;
  }

  /** Called by the resolver when a trusted proxy sent no usable client-IP header (counted there). */
  warnHeaderMissing(peer: string, headers: IncomingHttpHeaders): void {
    const header = this.header;
    const other = forwardingHeaderPresent(headers, header);
    // Health checks carry no forwarding header at all: counted, not worth a warning.
    if (other === null && headers[header] === undefined) return;
    const now = this.now();
    if (now < this.nextHeaderMissingWarning) return;
    this.nextHeaderMissingWarning = now + this.warnIntervalMs;
    const from = peer === '' ? 'the trusted Unix socket' : peer === ALB_PEER ? 'the Application Load Balancer' : `trusted proxy ${peer}`;
    this.logger.warn({ peer, header, other }, `a request from ${from} has no usable ${header} header, so Moat judged ` +
      'it by the proxy\'s address' + (other === null ? '.' : `. It carries ${other}: if your proxy writes that ` +
      `header, set ipHeader: '${other}' (Moat reads exactly one header and never falls back to another).`));
  }
}
