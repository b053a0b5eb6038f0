/**
 * SSRF targets: a URL, or a bare `host:port`/`host/path`, whose host is the server itself or the
 * cloud metadata service (see internal-host.ts). The authority is split the way WHATWG URL parsers
 * split it — userinfo before the last `@`, backslashes as slashes — so `http://evil.com@127.1/` and
 * `http:\\127.0.0.1` are read as the fetcher will. A bare number like `127.1` or `2130706433` alone is
 * more likely a price or an id: it counts only with a port, a path or a scheme around it.
 */
import { F_BRACKET, F_COLON, F_DOT, F_SLASH } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';
import { lowerCased } from '../../text/fast-case.js';
import { classifyHost, parseIpv4 } from './internal-host.js';

export const SSRF_FEATURES = F_COLON | F_SLASH | F_DOT | F_BRACKET;

export function detectSsrf(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  // URLs anywhere in the value: `scheme://` or `scheme:\\`.
  let nextAt = -2;
  // Only a colon followed by a slash of either kind can start one: `:/` and `:\` are searched natively
  // (two positions kept), not every colon of a long text (times, labels, emoticons).
  let slash = s.indexOf(':/');
  let backslash = s.indexOf(':\\');
  for (let i = nextUrlColon(slash, backslash); i >= 0 && i < n - 2; i = nextUrlColon(slash, backslash)) {
    if (i === slash) slash = s.indexOf(':/', i + 1);
    else backslash = s.indexOf(':\\', i + 1);
    if (i === 0) continue;
    const b = s.charCodeAt(i + 2);
    if (b !== 0x2f && b !== 0x5c) continue;
    let k = i - 1;
    while (k >= 0 && isSchemeChar(s.charCodeAt(k))) k--;
    if (k === i - 1) continue;
    const host = hostOf(s, i + 3);
    const v = host === null ? null : classifyHost(host);
    if (v?.internal) return { at: k + 1, reason: 'URL to a loopback, link-local or metadata address' };
    // Parser confusion: `http://127.1:80@evil/` (some libraries take the userinfo for the host) and
    // `http://evil#@127.0.0.1/` (some take the part after `@` past the fragment).
    // The next `@` is searched once and kept: an indexOf per URL would scan the rest of a long value each time.
    if (nextAt !== -1 && nextAt < i + 3) nextAt = s.indexOf('@', i + 3);
    const at = nextAt;
    if (at < 0 || at > i + 303) continue;
    // split(…, 1) of a string gives one element, or none for an empty string split on a pattern that matches it.
    const region = s.slice(i + 3, i + 303).split(/[\s"'<>]/, 1)[0] ?? '';
    const userinfo = region.split('@', 1)[0] ?? '';
    const afterAt = region.lastIndexOf('@') >= 0 ? (region.slice(region.lastIndexOf('@') + 1).split(/[/\\?#]/, 1)[0] ?? '') : '';
    for (const candidate of region.includes('@') ? [userinfo.split(':', 1)[0] ?? '', afterAt.split(':', 1)[0] ?? ''] : []) {
      if (classifyHost(candidate.toLowerCase())?.internal) return { at: k + 1, reason: 'URL that parsers disagree on points at a loopback or metadata address' };
    }
  }
  // Protocol-relative `//127.0.0.1/` and bare `host:port` / `host/path` values (short values only).
  if (n > 512) return null;
  let start = 0;
  while (start < n && s.charCodeAt(start) === 0x20) start++;
  const rel = s.startsWith('//', start) || s.startsWith('\\\\', start);
  const host = hostOf(s, rel ? start + 2 : start);
  if (host === null || host.length === 0) return null;
  const v = classifyHost(host);
  if (!v?.internal) return null;
  const afterHost = s.charCodeAt(start + (rel ? 2 : 0) + hostLength(s, rel ? start + 2 : start));
  const withPortOrPath = afterHost === 0x3a || afterHost === 0x2f || afterHost === 0x5c || afterHost === 0x3f;
  // A host followed by prose is a sentence about the host, not a target.
  if (/\s/.test(s.slice(start).trim())) return null;
  if (rel || !/^\d[0-9a-fx.]*$/.test(host) || host.replace(/\.$/, '').split('.').length === 4) return { at: start, reason: 'host is a loopback, link-local or metadata address' };
  // One to three numbers ("12:30", "0.5/1", "127.1") are clock times, fractions and prices far more
  // often than hosts: they count only when not starting at 0, and with a port, a path or hex/octal.
  if (/^0x|^0[0-7]|\.0x|\.0[0-7]/.test(host)) return { at: start, reason: 'host is a loopback, link-local or metadata address' };
  if ((parseIpv4(host.replace(/\.$/, '')) ?? 0) < 2 ** 24) return null;
  if (withPortOrPath) return { at: start, reason: 'host is a loopback, link-local or metadata address' };
  return null;
}

function isSchemeChar(c: number): boolean {
  return ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

function nextUrlColon(slash: number, backslash: number): number {
  return slash < 0 ? backslash : backslash < 0 ? slash : Math.min(slash, backslash);
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
