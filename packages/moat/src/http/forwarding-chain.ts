// Reading a list of hops (X-Forwarded-For, Forwarded) safely: each trusted proxy appends the address it
// received the request from, so only the right end of the list is vouched for. Walk from the right,
// skip hops that are themselves trusted proxies, and stop at the first one that is not: that is the
// client. Anything further left was written by the client and proves nothing.

/** A hop without its port and brackets: `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` → `::1`. */
export function stripPort(hop: string): string {
  const text = hop.trim();
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    const close = text.indexOf(']');
    return close > 0 ? text.slice(1, close) : text;
  }
  const colon = text.indexOf(':');
  // One colon: IPv4 with a port. Several: a bare IPv6 address.
  if (colon > 0 && text.indexOf(':', colon + 1) < 0) return text.slice(0, colon);
  return text;
}

/**
 * The client address in `hops` (ordered left to right as in the header), or null when the rightmost
 * hop is not an address. `isAddress` and `isTrusted` take port-less hops. When every hop is trusted,
 * the leftmost one is the client; an unreadable hop ends the walk at the last good one.
 */
export function clientFromHops(
  hops: readonly string[],
  isAddress: (ip: string) => boolean,
  isTrusted: (ip: string) => boolean,
): string | null {
  let candidate: string | null = null;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = stripPort(hops[i]);
    if (!isAddress(hop)) return candidate;
    if (!isTrusted(hop)) return hop;
    candidate = hop;
  }
  return candidate;
}
