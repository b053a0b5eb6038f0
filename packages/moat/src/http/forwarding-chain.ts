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

/**
 * `clientFromHops` over a comma-separated list (X-Forwarded-For) read from its right end, without
 * splitting it first: the common header holds one or two hops, and a split would allocate an array
 * and a string per hop on every proxied request. Only the hops visited are sliced out; a one-hop header
 * is used as it is. Measured with the resolver's callbacks: one hop 617 ns against 954 ns for
 * split + clientFromHops (a loaded 2-core machine, so relative numbers only).
 */
export function clientFromList(
  list: string,
  isAddress: (ip: string) => boolean,
  isTrusted: (ip: string) => boolean,
): string | null {
  let candidate: string | null = null;
  let end = list.length;
  for (;;) {
    const comma = end === 0 ? -1 : list.lastIndexOf(',', end - 1);
    // One hop and nothing to cut: the header itself (no allocation).
    const hop = stripPort(comma < 0 && end === list.length ? list : list.slice(comma + 1, end));
    if (!isAddress(hop)) return candidate;
    if (!isTrusted(hop)) return hop;
    candidate = hop;
    if (comma < 0) return candidate;
    end = comma;
  }
}
