/**
 * A bare internal host in a parameter named for a host: `?host=127.1`, `url=localhost:8080/admin`,
 * `{"webhookUrl": "0x7f000001"}`. detectSsrf reads hosts inside URLs only, since a whole value `127.1`,
 * `0x7f000001` or `localhost` is as often a price, an id or a word; an app that builds
 * `http://${host}/status` from a parameter called `host` connects to whatever it names, so there the
 * name settles it.
 */
import type { Finding } from '../types.js';
import { classifyHost } from './internal-host.js';

/** Parameter names (lower-cased, `_` and `-` removed) that hold a host, a URL or an endpoint the app connects to. */
const HOST_NAMES = new Set(['url', 'uri', 'host', 'hostname', 'server', 'target', 'endpoint', 'webhook', 'callback', 'proxy', 'upstream', 'remote', 'fetch', 'feed', 'src', 'dest', 'destination']);
/** Endings that make a name one of those (`imageUrl`, `webhook_url`, `targetHost`, `apiEndpoint`). */
const HOST_ENDINGS = ['url', 'uri', 'host', 'hostname', 'endpoint', 'webhook', 'server'];

/**
 * Whether the parameter or key `name` holds a host: its last segment (`config[url]`, `json` path
 * `target.url`), lower-cased, without `_` and `-`.
 */
export function isHostParameter(name: string): boolean {
  const from = Math.max(name.lastIndexOf('.'), name.lastIndexOf('[')) + 1;
  let to = name.length;
  if (name.charCodeAt(to - 1) === 0x5d) to--;
  if (to - from > 32 || to - from < 3) return false;
  const key = name.slice(from, to).toLowerCase().replace(/[-_]/g, '');
  if (HOST_NAMES.has(key)) return true;
  for (const ending of HOST_ENDINGS) if (key.endsWith(ending)) return true;
  return false;
}

/** Host names without a dot that name the server or its metadata service (INTERNAL_NAMES in internal-host.ts). */
const DOTLESS_INTERNAL = new Set(['localhost', 'metadata', 'instance-data', 'ip6-localhost', 'ip6-loopback', 'oracle-cloud-metadata']);

/**
 * Whether `s[from, to)` could be a bare internal host, from its characters alone (no slicing): a host
 * with an optional port is letters, digits, `.`, `-`, `:` and brackets, and without a dot or colon it is
 * a long number (`2130706433`), a hex one (`0x7f000001`) or a name such as `localhost`. Most parameter
 * values fail at their first space, `+` or `_`, before the parameter's name is looked at.
 */
export function mayBeBareHost(s: string, from: number, to: number): boolean {
  const n = to - from;
  if (n < 3 || n > 80) return false;
  let marks = false;
  let letters = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e || c === 0x3a || c === 0x5b || c === 0x5d) marks = true;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) letters = true;
    else if (!(c >= 0x30 && c <= 0x39) && c !== 0x2d) return false;
  }
  if (marks) return true;
  if (!letters) return n >= 8;
  const c1 = s.charCodeAt(from + 1) | 0x20;
  if (s.charCodeAt(from) === 0x30 && c1 === 0x78) return true;
  return n <= 21 && DOTLESS_INTERNAL.has(s.slice(from, to).toLowerCase());
}

/**
 * The value as a bare host (no scheme: a URL is detectSsrf's), with an optional `:port` and path, when it
 * names the server itself or its metadata service; else null. `127.1`, `localhost:8080/admin`,
 * `[::1]`, `2130706433`, `metadata.google.internal`.
 */
export function bareInternalHost(value: string): Finding | null {
  const v = value.trim().toLowerCase();
  if (v.length < 3 || v.length > 255 || v.includes('://')) return null;
  let end = v.length;
  const slash = v.search(/[/\\?#]/);
  if (slash >= 0) end = slash;
  let host = v.slice(0, end);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return null;
    host = host.slice(0, close + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && /^\d{0,5}$/.test(host.slice(colon + 1))) host = host.slice(0, colon);
  }
  if (host.length === 0) return null;
  return classifyHost(host)?.internal ? { at: 0, reason: `internal host ${host} in a host parameter` } : null;
}
