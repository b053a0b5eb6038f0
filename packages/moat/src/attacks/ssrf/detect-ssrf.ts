/**
 * SSRF targets: a URL, or a bare `host:port`/`host/path`, whose host is the server itself or the
 * cloud metadata service (see internal-host.ts). The authority is split the way WHATWG URL parsers
 * split it — userinfo before the last `@`, backslashes as slashes — so `http://evil.com@127.1/` and
 * `http:\\127.0.0.1` are read as the fetcher will. A bare number like `127.1` or `2130706433` alone is
 * more likely a price or an id: it counts only with a port, a path or a scheme around it; one on 0.0.0.x
 * (`07:30`, `01/02/2024`, `0.04/GB`) is a time, a date or a price even then, unless written in hex.
 */
import { F_BRACKET, F_COLON, F_DOT, F_SLASH } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';
import { lowerCased } from '../../text/fast-case.js';
import { classifyHost, parseIpv4 } from './internal-host.js';
import { domainToASCII } from 'node:url';

export const SSRF_FEATURES = F_COLON | F_SLASH | F_DOT | F_BRACKET;

export function detectSsrf(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  // URLs anywhere in the value: a scheme, a colon, and for the special schemes (http, https, ws, wss, ftp)
  // any number of slashes or backslashes, none included (`http:169.254.169.254/` is fetched as WHATWG
  // skips them all); other schemes need two. Each search below is kept and moved forward only, so a
  // value of thousands of URLs is read a bounded number of times, whatever their authorities hold.
  // Made at the first URL: most values with a colon hold none.
  let m: Scan | null = null;
  let lastFrom = -1;
  let lastTo = -1;
  let lastAtChecked = -1;
  for (let i = s.indexOf(':'); i >= 0 && i < n - 1; i = s.indexOf(':', i + 1)) {
    let k = i - 1;
    while (k >= 0 && isSchemeChar(s.charCodeAt(k))) k--;
    if (k === i - 1) continue;
    const special = isSpecialScheme(s, k + 1, i);
    let p = i + 1;
    let slashes = 0;
    if (special) {
      for (let c = s.charCodeAt(p); c === 0x2f || c === 0x5c || c === 0x09 || c === 0x0a || c === 0x0d; c = s.charCodeAt(++p)) if (c === 0x2f || c === 0x5c) slashes++;
    } else {
      const a = s.charCodeAt(p);
      const b = s.charCodeAt(p + 1);
      if ((a !== 0x2f && a !== 0x5c) || (b !== 0x2f && b !== 0x5c)) continue;
      p += 2;
      slashes = 2;
    }
    if (p >= n) continue;
    m ??= new Scan(s);
    const authEnd = m.authorityEnd(p);
    // Userinfo ends at the last `@` of the authority, however long (WHATWG has no limit).
    const lastAt = m.lastAtBefore(p, authEnd);
    const from = lastAt >= 0 ? lastAt + 1 : p;
    let to: number;
    if (s.charCodeAt(from) === 0x5b) {
      const close = m.next(']', from, BRACKET);
      to = close < authEnd ? close + 1 : from;
    } else {
      to = Math.min(m.next(':', from, HOST_COLON), authEnd);
      while (to > from && isTrailingPunctuation(s.charCodeAt(to - 1))) to--;
    }
    // URLs sharing one authority (`http:http:…@host`) share its host: judged once.
    if (to > from && (from !== lastFrom || to !== lastTo)) {
      lastFrom = from;
      lastTo = to;
      const host = urlHost(s.slice(from, to));
      const v = classifyHost(host);
      // Without two slashes a small number is more likely prose ("ratio http:1") than a fetch of 0.0.0.1.
      if (v?.internal && (slashes >= 2 || !isSmallNumber(host))) return { at: k + 1, reason: 'URL to a loopback, link-local or metadata address' };
    }
    // Parser confusion: `http://127.1:80@evil/` (some libraries take the userinfo for the host) and
    // `http://evil#@127.0.0.1/` (some take the part after `@` past the fragment). Both read only up to
    // the next colon or `@`, so what one URL reads is not read again for the next.
    const at = m.next('@', p, AT);
    if (at >= n || at > p + 300 || at >= m.proseEnd(p) || at === lastAtChecked) continue;
    lastAtChecked = at;
    const userinfo = s.slice(p, Math.min(at, m.next(':', p, USERINFO_COLON)));
    if (userinfo.length > 0 && classifyHost(urlHost(userinfo))?.internal) return { at: k + 1, reason: 'URL that parsers disagree on points at a loopback or metadata address' };
    let e = at + 1;
    while (e < n && e - at <= 300 && !confusionHostEnd(s.charCodeAt(e))) e++;
    if (e > at + 1 && (at + 1 !== lastFrom || e !== lastTo) && classifyHost(urlHost(s.slice(at + 1, e)))?.internal) return { at: k + 1, reason: 'URL that parsers disagree on points at a loopback or metadata address' };
  }
  // Protocol-relative `//127.0.0.1/` and bare `host:port` / `host/path` values (short values only).
  if (n > 512) return null;
  let start = 0;
  while (start < n && s.charCodeAt(start) === 0x20) start++;
  const rel = s.startsWith('//', start) || s.startsWith('\\\\', start);
  // `::1` alone: an IPv6 address is read as a whole, its colons are not a port.
  if (s.includes('::') && /^\s*[0-9a-f:.]+\s*$/i.test(s) && /[0-9a-f]/i.test(s) && classifyHost(`[${s.trim().toLowerCase()}]`)?.internal) return { at: start, reason: 'host is a loopback, link-local or metadata address' };
  const raw = hostOf(s, rel ? start + 2 : start);
  if (raw === null || raw.length === 0) return null;
  const host = urlHost(raw);
  const v = classifyHost(host);
  if (!v?.internal) return null;
  const afterHost = s.charCodeAt(start + (rel ? 2 : 0) + hostLength(s, rel ? start + 2 : start));
  const withPortOrPath = afterHost === 0x3a || afterHost === 0x2f || afterHost === 0x5c || afterHost === 0x3f;
  // A host followed by prose is a sentence about the host, not a target.
  if (/\s/.test(s.slice(start).trim())) return null;
  if (rel || !/^\d[0-9a-fx.]*$/.test(host)) return { at: start, reason: 'host is a loopback, link-local or metadata address' };
  return bareNumberIsHost(host.endsWith('.') ? host.slice(0, -1) : host, withPortOrPath) ? { at: start, reason: 'host is a loopback, link-local or metadata address' } : null;
}

/**
 * Whether a bare internal number (`127.0.0.1`, `0177.1:80/`, `07:30`, `01/02/2024`, `0.04/GB`) is written
 * as a host, not as a time, a date, a phone number, a price or a version. Read without a scheme, a value
 * is a host only when its notation says so: a dotted quad, hex or octal with dots (`0x7f.1`, `0177.1`),
 * or a number that reaches 127/8 or 169.254/16 with a port or a path (`2130706433:80`). Below 2^24 an
 * internal number is 0.x.y.z, "this host": what a leading `0` gives `07:30`, `01/02/2024`, `030/1234567`,
 * `0.04/GB` and MAC addresses — a host only in hex (`0x0:80/`), which no clock, date or price is written in.
 */
function bareNumberIsHost(h: string, withPortOrPath: boolean): boolean {
  const ip = parseIpv4(h);
  if (ip === null) return true;
  let dots = 0;
  for (let k = h.indexOf('.'); k >= 0; k = h.indexOf('.', k + 1)) dots++;
  // A dotted quad is an address, but 0.x.y.z alone is a version (`0.9.8.1`) unless it is 0.0.0.0, the
  // only one of 0/8 that reaches the server itself.
  if (dots === 3) return ip >= 2 ** 24 || ip === 0 || withPortOrPath;
  if (ip < 2 ** 24) return h.includes('x') && (dots > 0 || withPortOrPath);
  // One to three numbers: `0177.1`, `0x7f.1`, `127.0x1` alone, any with a port or a path.
  return (dots > 0 && /^0|\.0[0-9x]/.test(h)) || withPortOrPath;
}

/**
 * A Referer without the origin of a page open on the user's own machine (`http://localhost:3000`,
 * `http://127.0.0.1:5500`, `http://[::1]:8080`, `http://0.0.0.0:8080`): the browser names the page it
 * came from, and a development front end talking to this server is on loopback. Only the origin as a
 * browser serializes it is dropped — lower-case http(s), no userinfo, a canonical address, a decimal
 * port, then a path or nothing — so the path and query are still read, and a metadata or link-local
 * host, an octal or hex spelling, `@` or a backslash (none of which a browser writes) is judged whole.
 */
export function refererWithoutLoopbackOrigin(referer: string): string {
  // Most Referers name a public site: the host's first character tells (l, 1, 0 or `[`), before the regex.
  const c = referer.charCodeAt(referer.charCodeAt(4) === 0x3a ? 7 : 8);
  if (c !== 0x6c && c !== 0x31 && c !== 0x30 && c !== 0x5b) return referer;
  const origin = BROWSER_LOOPBACK_ORIGIN.exec(referer);
  if (origin === null) return referer;
  const end = origin[0].length;
  return end === referer.length || referer.charCodeAt(end) === 0x2f ? referer.slice(end) : referer;
}

/** The origin, up to the port. */
const BROWSER_LOOPBACK_ORIGIN = /^https?:\/\/(?:localhost|127(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|0\.0\.0\.0|\[::1\])(?::[1-9]\d{0,4})?/;

function isSchemeChar(c: number): boolean {
  return ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

/** http, https, ws, wss, ftp in any case: the schemes whose URLs need no slashes (file has no host without them). */
function isSpecialScheme(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 2 || len > 5) return false;
  const c0 = s.charCodeAt(from) | 0x20;
  const c1 = s.charCodeAt(from + 1) | 0x20;
  if (c0 === 0x77) return c1 === 0x73 && (len === 2 || (len === 3 && (s.charCodeAt(from + 2) | 0x20) === 0x73)); // ws, wss
  if (c0 === 0x66) return len === 3 && c1 === 0x74 && (s.charCodeAt(from + 2) | 0x20) === 0x70; // ftp
  if (c0 !== 0x68 || c1 !== 0x74 || len < 4 || (s.charCodeAt(from + 2) | 0x20) !== 0x74 || (s.charCodeAt(from + 3) | 0x20) !== 0x70) return false;
  return len === 4 || (s.charCodeAt(from + 4) | 0x20) === 0x73; // http, https
}

/** A host that is one to three numbers below 2^24 (`1`, `0`, `12.5`): a URL only with two slashes. */
function isSmallNumber(host: string): boolean {
  const v = parseIpv4(host.endsWith('.') ? host.slice(0, -1) : host);
  return v !== null && v < 2 ** 24 && !/^0x|^0[0-7]|\.0x|\.0[0-7]/.test(host);
}

const NON_ASCII = /[^\x00-\x7f]/;
const TAB_OR_NEWLINE = /[\t\n\r]/;
const TAB_OR_NEWLINES = /[\t\n\r]/g;

/**
 * A host as the fetcher reads it: TAB, LF and CR deleted (WHATWG drops them anywhere), lower-cased, and
 * when not ASCII, mapped the way IDNA does (`𝟏𝟔𝟗` is `169`, `¹²⁷` is `127`, a soft hyphen or a zero-width
 * space is nothing), by the runtime's own mapping; ASCII hosts, nearly all of them, skip it.
 */
function urlHost(raw: string): string {
  let h = raw;
  let unusual = false;
  for (let k = 0; k < h.length; k++) {
    const c = h.charCodeAt(k);
    if (c < 0x20 || c > 0x7f || (c >= 0x41 && c <= 0x5a)) {
      unusual = true;
      break;
    }
  }
  if (!unusual) return h;
  if (TAB_OR_NEWLINE.test(h)) h = h.replace(TAB_OR_NEWLINES, '');
  h = lowerCased(h);
  if (NON_ASCII.test(h) && h.charCodeAt(0) !== 0x5b) {
    const ascii = domainToASCII(h);
    if (ascii !== '') h = ascii;
  }
  return h;
}

function confusionHostEnd(c: number): boolean {
  return c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23 || c === 0x3a || c === 0x40 || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e;
}

/** WHATWG ends an authority at `/`, `\`, `?` or `#`; a space, a quote or an angle bracket ends a URL in prose. */
function authorityEnds(c: number): boolean {
  return c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23 || c === 0x20 || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e;
}

function proseEnds(c: number): boolean {
  return c === 0x20 || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000;
}

const AT = 0;
const HOST_COLON = 1;
const USERINFO_COLON = 2;
const BRACKET = 3;

/**
 * Positions searched for in one value, each kept until the search point passes it. The search points
 * only move forward (each URL starts after the previous one's colon), so each search reads the value once.
 */
class Scan {
  private readonly found: number[] = [-1, -1, -1, -1];
  private authEnd = -1;
  private proseAt = -1;
  private atEnd = -1;
  private lastAt = -1;
  constructor(private readonly s: string) {}

  /** The first `c` at or after `from`, or the value's length; `slot` names a search whose `from` only grows. */
  next(c: string, from: number, slot: number): number {
    const kept = this.found[slot]!;
    if (kept >= from) return kept;
    const i = this.s.indexOf(c, from);
    const at = i < 0 ? this.s.length : i;
    this.found[slot] = at;
    return at;
  }

  authorityEnd(from: number): number {
    if (this.authEnd < from) {
      let k = from;
      while (k < this.s.length && !authorityEnds(this.s.charCodeAt(k))) k++;
      this.authEnd = k;
    }
    return this.authEnd;
  }

  proseEnd(from: number): number {
    if (this.proseAt < from) {
      let k = from;
      while (k < this.s.length && !proseEnds(this.s.charCodeAt(k))) k++;
      this.proseAt = k;
    }
    return this.proseAt;
  }

  /** The last `@` in [from, end), or -1. Searched back from `end` only as far as the first `@` after `from`. */
  lastAtBefore(from: number, end: number): number {
    const first = this.next('@', from, AT);
    if (first >= end) return -1;
    if (this.atEnd !== end) {
      this.atEnd = end;
      let k = end - 1;
      while (k > first && this.s.charCodeAt(k) !== 0x40) k--;
      this.lastAt = k;
    }
    return this.lastAt;
  }
}

function hostEnd(c: number): boolean {
  return c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23 || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e;
}

/** Characters of the authority starting at `i` (up to the first path, query or fragment delimiter). */
function authorityLength(s: string, i: number): number {
  let j = i;
  while (j < s.length && j - i < 300 && !hostEnd(s.charCodeAt(j))) j++;
  return j - i;
}

/**
 * The lower-cased host of the authority at `i`, without userinfo and port; null when none. Found by
 * positions and sliced once: a long value holds a URL every few hundred characters, and the slices,
 * the trimming regex and the lower-casing of each (a runtime call on two-byte text) were most of this
 * detector's cost there.
 */
function hostOf(s: string, i: number): string | null {
  const end = i + authorityLength(s, i);
  // Userinfo ends at the last `@`.
  let from = i;
  for (let k = end - 1; k >= i; k--) {
    if (s.charCodeAt(k) === 0x40) {
      from = k + 1;
      break;
    }
  }
  // Prose punctuation after a URL (`!`, `;`, `,`, `)`) is not part of it.
  let to = end;
  while (to > from && isTrailingPunctuation(s.charCodeAt(to - 1))) to--;
  if (from < to && s.charCodeAt(from) === 0x5b) {
    const close = s.indexOf(']', from);
    return close < 0 || close >= to ? null : lowerCased(s.slice(from, close + 1));
  }
  for (let k = from; k < to; k++) {
    if (s.charCodeAt(k) === 0x3a) return lowerCased(s.slice(from, k));
  }
  return lowerCased(s.slice(from, to));
}

function isTrailingPunctuation(c: number): boolean {
  return c === 0x21 || c === 0x3b || c === 0x2c || c === 0x29;
}

function hostLength(s: string, i: number): number {
  const auth = s.slice(i, i + authorityLength(s, i));
  const at = auth.lastIndexOf('@');
  const off = at >= 0 ? at + 1 : 0;
  const host = auth.slice(off);
  if (host.startsWith('[')) return off + host.indexOf(']') + 1;
  const colon = host.indexOf(':');
  return off + (colon >= 0 ? colon : host.length);
}
