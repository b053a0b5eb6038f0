// Detects two misconfigurations. The app sits behind a proxy, but no proxy is trusted, so every request
// seems to come from the proxy and rate limits and IP rules hit the proxy instead of clients. Or the
// proxy is trusted but writes another header than the one Moat reads.

import type { IncomingHttpHeaders } from 'node:http';
import { FORWARDING_HEADERS, type ForwardingHeader } from './client-ip.js';

/** The first forwarding header the request carries (other than `except`), or null. A handful of property reads. */
export function forwardingHeaderPresent(headers: IncomingHttpHeaders, except?: ForwardingHeader): ForwardingHeader | null {
  for (const name of FORWARDING_HEADERS) if (name !== except && headers[name] !== undefined) return name;
  return null;
}
