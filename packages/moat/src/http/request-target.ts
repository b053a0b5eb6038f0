// Where a request goes: the target Node hands over (req.url) split into its raw path and query, and
// the host rules see. Handles the absolute form (`GET http://host/x`), which proxies send and
// attackers use to dodge naive parsing; its authority is a host like the Host header's.

import { lowerCased } from '../text/fast-case.js';

export interface RequestTarget {
  /** Raw path, still percent-encoded; `*` for `OPTIONS *`. */
  path: string;
  /** Raw query without `?`, or '' when there is none. */
  query: string;
  /** Host and port from an absolute-form target, or null. */
  authority: string | null;
}

const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;

/** Index of the first `?` or `#` at or after `from`, or the length. */
function endOfPath(url: string, from: number): number {
  for (let i = from; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === QUESTION || c === HASH) return i;
  }
  return url.length;
}

/** `scheme://` at the start: the index after `//`, or -1. */
function afterScheme(url: string): number {
  const colon = url.indexOf('://');
  if (colon <= 0) return -1;
  for (let i = 0; i < colon; i++) {
    const c = url.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const other = c === 0x2b || c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39); // + - . digit
    if (!letter && !(i > 0 && other)) return -1;
  }
  return colon + 3;
}

/** Where the path of a target starts: 0, or the end of an absolute form's authority. */
export function pathStartOf(url: string): number {
  if (url.length === 0 || url.charCodeAt(0) === SLASH) return 0;
  const start = afterScheme(url);
  if (start < 0) return 0;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === SLASH || c === QUESTION || c === HASH) break;
    end++;
  }
  return end;
}

export function splitTarget(url: string): RequestTarget {
  let authority: string | null = null;
  const pathStart = pathStartOf(url);
  if (pathStart > 0) {
    const start = afterScheme(url);
    // userinfo@ is not part of the host.
    const at = url.lastIndexOf('@', pathStart - 1);
    authority = url.slice(at >= start ? at + 1 : start, pathStart);
  }
  const pathEnd = endOfPath(url, pathStart);
  let path = pathStart === 0 && pathEnd === url.length ? url : url.slice(pathStart, pathEnd);
  if (path === '' && authority !== null) path = '/';
  let query = '';
  if (pathEnd < url.length) {
    const hash = url.charCodeAt(pathEnd) === HASH ? pathEnd : url.indexOf('#', pathEnd + 1);
    if (hash < 0) query = url.slice(pathEnd + 1);
    else query = queryReadings(url, pathEnd, hash);
  }
  return { path, query, authority };
}

/**
 * The query of a target holding a `#` (browsers never send one, so this is rare), as every reader
 * takes it, joined with `&` so parameter rules and attack detection judge each: WHATWG URL, Express
 * and Hono read from `?` to `#`; find-my-way (Fastify) from the first `?` or `#` to the end
 * (`/x#q=1` has query `q=1`); Hono releases before 2026 from the first `?` to
 * the end. `pathEnd` is the first
 * `?` or `#` after the path's start, `hash` the first `#`.
 */
function queryReadings(url: string, pathEnd: number, hash: number): string {
  const question = url.indexOf('?', pathEnd);
  const readings: string[] = [];
  const add = (reading: string) => {
    if (reading !== '' && !readings.includes(reading)) readings.push(reading);
  };
  if (question >= 0 && question < hash) add(url.slice(question + 1, hash));
  add(url.slice(pathEnd + 1));
  if (question >= 0) add(url.slice(question + 1));
  return readings.join('&');
}

/**
 * The raw path as the most generous reader takes it: up to the first `?`, a `#` and what follows it
 * included (Hono releases before 2026 route on `/x#/../y`). `pathStart` is where the path begins.
 */
export function pathUpToQuery(url: string, pathStart: number): string {
  const question = url.indexOf('?', pathStart);
  return pathStart === 0 && question < 0 ? url : url.slice(pathStart, question < 0 ? url.length : question);
}

// The host rules see: lower case, without port and without the trailing dot of a fully qualified name
// (`EXAMPLE.com.:443` reaches the same site as `example.com`). IPv6 literals keep their brackets.

/** Normalises a Host header or authority; undefined when there is none. Never throws. */
export function normalizeHost(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let end = value.length;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close > 0) end = close + 1;
  } else {
    // Up to the first colon, as Express's req.hostname, Fastify's request.hostname and Koa's ctx.hostname
    // read it: `admin.example.com:1:2` reaches the app as `admin.example.com`, so that is what host rules
    // judge (kept whole, it dodged a rule on that host).
    const colon = value.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 1 && value.charCodeAt(end - 1) === 0x2e /* . */) end--;
  const host = end === value.length ? value : value.slice(0, end);
  return lowerCased(host);
}

/**
 * The hosts a proxying app may take from a CONNECT request's target (`db.internal:5432`), which node:http
 * passes on unchecked: the text up to the first colon (`target.split(':')`), the host WHATWG URL reads
 * from `http://` + target (userinfo dropped, percent escapes decoded: `user@db.internal:5432`,
 * `%64b.internal:5432`), and from the target itself when it names a scheme. Raw; normalizeHost() each.
 */
export function connectTargetHosts(target: string): string[] {
  const hosts = [target];
  for (const text of target.includes('://') ? [`http://${target}`, target] : [`http://${target}`]) {
    try {
      const host = new URL(text).host;
      if (host !== '' && !hosts.includes(host)) hosts.push(host);
    } catch {
      // Not a URL to WHATWG: an app parsing it so connects nowhere.
    }
  }
  return hosts;
}

// A Web Request's url is built by the runtime from the Host header: Deno writes `http://` + Host + target
// without checking the Host, and Bun falls back to the bare target when the Host is not one. Then the
// app's readings part from Moat's own split: WHATWG URL reads `\` as `/` (`Host: a\login?` with
// `POST /` has pathname `/login`), and Hono routes on the text from the first `/` after `://`
// (`Host: a?` with `POST /login` is routed to `/login`; for a relative url, from the first `/` after
// its third character). Such urls are rare, so their readings are worked out only for them.

/** Characters of host syntax: letters, digits and `.-:[]%_~`. */
function isHostChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x3a) || c === 0x2e || c === 0x2d ||
    c === 0x5b || c === 0x5d || c === 0x25 || c === 0x5f || c === 0x7e;
}

/** True when a Web Request's url is not absolute or its authority holds anything outside host syntax. One scan of the authority. */
export function isOddWebUrl(url: string): boolean {
  const start = afterScheme(url);
  if (start < 0) return true;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    // An empty authority (`http:///x/login`, from `Host: /x` or an empty Host) is odd: WHATWG URL and
    // Hono both read `/login` from it, where the target's own reading is `/x/login`.
    if (c === SLASH) return i === start;
    if (!isHostChar(c)) return true;
  }
  return false;
}

/** The other readings of an odd Web url (isOddWebUrl): raw paths, still encoded, and hosts as written. */
export interface WebUrlReadings {
  paths: string[];
  hosts: string[];
}

export function webUrlReadings(url: string): WebUrlReadings {
  const paths: string[] = [];
  const hosts: string[] = [];
  try {
    const parsed = new URL(url);
    paths.push(parsed.pathname);
    if (parsed.hostname !== '') hosts.push(parsed.hostname);
  } catch {
    // Not a URL (a relative one, or a Host WHATWG refuses): the app's `new URL()` throws as well.
  }
  // Hono's getPath(): from the first `/` at or after the index of the first `:` plus four, to the first
  // `?` or `#`; before 2026, to the first `?`.
  const start = url.indexOf('/', url.indexOf(':') + 4);
  if (start >= 0) {
    const path = url.slice(start, endOfPath(url, start));
    paths.push(path);
    const older = pathUpToQuery(url, start);
    if (older !== path) paths.push(older);
  }
  return { paths, hosts };
}
