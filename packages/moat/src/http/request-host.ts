// The host rules see: lower case, without port and without the trailing dot of a fully qualified name
// (`EXAMPLE.com.:443` reaches the same site as `example.com`). IPv6 literals keep their brackets.

import { lowerCased } from '../text/fast-case.js';

/** Normalises a Host header or authority; undefined when there is none. Never throws. */
export function normalizeHost(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let end = value.length;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close > 0) end = close + 1;
  } else {
    const colon = value.indexOf(':');
    // More than one colon is not host:port; leave it for the rules to see as it came.
    if (colon >= 0 && value.indexOf(':', colon + 1) < 0) end = colon;
  }
  if (end > 1 && value.charCodeAt(end - 1) === 0x2e /* . */) end--;
  const host = end === value.length ? value : value.slice(0, end);
  return lowerCased(host);
}

