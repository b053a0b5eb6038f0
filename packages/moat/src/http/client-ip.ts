// Who is the client? The socket peer, unless the peer is a trusted proxy: only then is the one header
// that proxy writes read, because anyone can send headers. Exactly one header: reading several in an
// order of preference lets a client add the one the proxy does not overwrite (X-Forwarded-For behind
// an nginx that sets only X-Real-IP) and claim an allowed address. When that header is missing or
// unreadable, the proxy's own address is used and counted; no other header is tried.

import type { IncomingHttpHeaders } from 'node:http';
import { parseIpInto } from '../ip/parse-into.js';
import { forwardedForValues } from './forwarded-header.js';
import { clientFromHops, clientFromList, stripPort } from './forwarding-chain.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** Headers that can name the client. */
export type ForwardingHeader =
  | 'x-forwarded-for'
  | 'forwarded'
  | 'cf-connecting-ip'
  | 'fly-client-ip'
  | 'true-client-ip'
  | 'x-real-ip';

export const FORWARDING_HEADERS: readonly ForwardingHeader[] = [
  'x-forwarded-for', 'forwarded', 'cf-connecting-ip', 'fly-client-ip', 'true-client-ip', 'x-real-ip',
];

export const DEFAULT_IP_HEADER: ForwardingHeader = 'x-forwarded-for';

export function isForwardingHeader(name: string): name is ForwardingHeader {
  return (FORWARDING_HEADERS as readonly string[]).includes(name);
}

/** Where a request's client IP came from. */
export type IpSource = 'socket' | ForwardingHeader;

/** What the resolver fills in; the normalised request itself, so resolving allocates no result object. */
export interface ClientIpTarget {
  /** '' only when no address is known: the socket has none (a Unix socket, a closed connection). */
  ip: string;
  ipSource: IpSource;
}

/** The resolver's counters; the firewall's stats object is passed in, so they show in stats(). */
export interface ClientIpCounters {
  /** From a trusted proxy without a usable client-IP header: judged by the proxy's own address. */
  ipHeaderMissing: number;
  /** The client-IP header came from a peer that is not trusted, and was ignored (spoofing, or a proxy not listed). */
  ipHeaderUntrusted: number;
}

/** `::ffff:1.2.3.4`, as Node reports IPv4 clients on dual-stack sockets, reported as `1.2.3.4`. */
export function unmapIpv4(ip: string): string {
  if (ip.length > 7 && ip.charCodeAt(0) === 0x3a && ip.charCodeAt(6) === 0x3a && ip.indexOf('.', 7) > 0 &&
    ip.slice(0, 7).toLowerCase() === '::ffff:') {
    return ip.slice(7);
  }
  return ip;
}

function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return value.join(', ');
}

export class ClientIpResolver {
  private readonly words = new Uint32Array(4);
  // The chain walk asks isAddress and then isTrusted of the same hop; the second reuses the first's
  // parse instead of parsing again (parsing is most of the cost of a hop).
  private parsedText: string | null = null;
  private parsedFamily: 0 | 4 | 6 = 0;
  readonly isAddress = (ip: string): boolean => {
    this.parsedText = ip;
    return (this.parsedFamily = parseIpInto(ip, this.words)) !== 0;
  };
  readonly isTrusted = (ip: string): boolean => {
    const family = this.parsedFamily;
    if (ip === this.parsedText && family !== 0) return this.trusted.hasParsed(family, this.words);
    return this.trusted.has(ip);
  };

  /**
   * `onHeaderMissing` is called (rarely: a misconfiguration or a health check) when a trusted proxy's
   * request had no usable `header`.
   */
  constructor(
    readonly trusted: TrustedProxies,
    readonly header: ForwardingHeader = DEFAULT_IP_HEADER,
    private readonly counters: ClientIpCounters = { ipHeaderMissing: 0, ipHeaderUntrusted: 0 },
    private readonly onHeaderMissing?: (peer: string, headers: IncomingHttpHeaders) => void,
  ) {}

  /** `peer` is the socket's remote address; undefined (a Unix socket) leaves `ip` empty for the caller to handle. */
  resolve(peer: string | undefined, headers: IncomingHttpHeaders, out: ClientIpTarget): void {
    out.ipSource = 'socket';
    if (peer === undefined || peer === '') {
      out.ip = '';
      return;
    }
    const socketIp = unmapIpv4(peer);
    out.ip = socketIp;
    if (this.trusted.isEmpty || !this.trusted.has(socketIp)) {
      // One property read: makes spoofing attempts and unlisted proxies visible in the counters.
      if (headers[this.header] !== undefined) this.counters.ipHeaderUntrusted++;
      return;
    }
    this.readHeader(headers, out, socketIp);
  }

  /**
   * Reads the client from the header of a request that came from a trusted proxy (`peer`: its address,
   * '' for a trusted Unix socket). False, counted, and `out` left as it was when the header is absent,
   * unreadable or ambiguous.
   */
  readHeader(headers: IncomingHttpHeaders, out: ClientIpTarget, peer: string): boolean {
    const value = headerText(headers[this.header]);
    const ip = value === undefined || value === '' ? null : this.clientFrom(value);
    if (ip !== null) {
      out.ip = unmapIpv4(ip);
      out.ipSource = this.header;
      return true;
    }
    this.counters.ipHeaderMissing++;
    this.onHeaderMissing?.(peer, headers);
    return false;
  }

  private clientFrom(value: string): string | null {
    const name = this.header;
    if (name === 'x-forwarded-for') return clientFromList(value, this.isAddress, this.isTrusted);
    if (name === 'forwarded') return clientFromHops(forwardedForValues(value), this.isAddress, this.isTrusted);
    // Platform headers carry one address. A list means the header arrived twice (once from the
    // client): ambiguous, so it is not used.
    if (value.includes(',')) return null;
    const ip = stripPort(value);
    return this.isAddress(ip) ? ip : null;
  }
}
