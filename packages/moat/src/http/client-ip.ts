// Who is the client? The socket peer, unless the peer is a trusted proxy: only then are forwarding
// headers read, because anyone can send them. Wafris v2 read them from every peer, which let a client
// claim an allowed IP and skip every rule.

import type { IncomingHttpHeaders } from 'node:http';
import { parseIpInto } from '../ip/parse-into.js';
import { forwardedForValues } from './forwarded-header.js';
import { clientFromHops, stripPort } from './forwarding-chain.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** Headers that can name the client, in the default order of preference. */
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

/** Where a request's client IP came from. */
export type IpSource = 'socket' | ForwardingHeader;

/** What the resolver fills in; the normalised request itself, so resolving allocates no result object. */
export interface ClientIpTarget {
  ip: string;
  ipSource: IpSource;
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
  readonly isAddress = (ip: string): boolean => parseIpInto(ip, this.words) !== 0;
  readonly isTrusted = (ip: string): boolean => this.trusted.has(ip);

  constructor(
    readonly trusted: TrustedProxies,
    readonly headers: readonly ForwardingHeader[] = FORWARDING_HEADERS,
  ) {}

  resolve(peer: string | undefined, headers: IncomingHttpHeaders, out: ClientIpTarget): void {
    const socketIp = peer === undefined ? '' : unmapIpv4(peer);
    if (this.trusted.isEmpty || socketIp === '' || !this.trusted.has(socketIp)) {
      out.ip = socketIp;
      out.ipSource = 'socket';
      return;
    }
    for (const name of this.headers) {
      const value = headerText(headers[name]);
      if (value === undefined || value === '') continue;
      const ip = this.fromHeader(name, value);
      if (ip !== null) {
        out.ip = unmapIpv4(ip);
        out.ipSource = name;
        return;
      }
    }
    out.ip = socketIp;
    out.ipSource = 'socket';
  }

  private fromHeader(name: ForwardingHeader, value: string): string | null {
    if (name === 'x-forwarded-for') return clientFromHops(value.split(','), this.isAddress, this.isTrusted);
    if (name === 'forwarded') return clientFromHops(forwardedForValues(value), this.isAddress, this.isTrusted);
    // Platform headers carry one address. A list means the header arrived twice (once from the
    // client): ambiguous, so it is not used.
    if (value.includes(',')) return null;
    const ip = stripPort(value);
    return this.isAddress(ip) ? ip : null;
  }
}
