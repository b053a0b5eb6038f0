// The path rules see: percent-decoded, `\` read as `/` (as WHATWG URL parsing does), duplicate slashes
// merged and dot segments resolved. So `/%77p-admin`, `//wp-admin`, `/./x/../wp-admin` and
// `/x/..%2fwp-admin` all become `/wp-admin`. Case is kept: the engine matches case-insensitively.
//
// Routers do not all read a path that way: Express, Fastify and Koa route on the path as written, so
// `/wp-admin/..` reaches an `app.use('/wp-admin')` mount and `/admin%2fsecret` a `/:page` route whose
// parameter is `admin/secret`. pathForms() lists the other readings so the engine can judge them all.

import { percentDecode } from './percent-decode.js';

const SLASH = 0x2f;
const DOT = 0x2e;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const SEMICOLON = 0x3b;

/** True when the path is already in normal form, so the common request allocates nothing here. */
function isPlain(path: string): boolean {
  if (path.charCodeAt(0) !== SLASH) return false;
  let previous = SLASH;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || c === SEMICOLON || c > 0x7f) return false;
    if (previous === SLASH && (c === SLASH || c === DOT)) return false;
    previous = c;
  }
  return true;
}

/** Normalises a raw request path (see the file comment). Never throws; `*` stays `*`. */
export function normalizePath(rawPath: string): string {
  if (isPlain(rawPath)) return rawPath;
  if (rawPath === '*') return rawPath;
  const decoded = percentDecode(rawPath).replaceAll('\\', '/');
  const segments: string[] = [];
  let start = 0;
  let trailingSlash = false;
  const length = decoded.length;
  while (start <= length) {
    let end = decoded.indexOf('/', start);
    if (end < 0) end = length;
    const segment = decoded.slice(start, end);
    const last = end === length;
    if (segment === '..') {
      segments.pop();
      trailingSlash = last;
    } else if (segment === '.') {
      trailingSlash = last;
    } else if (segment === '') {
      trailingSlash = last && segments.length > 0;
    } else {
      segments.push(segment);
      trailingSlash = false;
    }
    start = end + 1;
  }
  if (segments.length === 0) return '/';
  const joined = '/' + segments.join('/');
  return trailingSlash ? joined + '/' : joined;
}

/**
 * The other paths a router may act on for `rawPath`, besides `normalized` (= normalizePath(rawPath)),
 * or undefined when there are none. Only a path that is not plain (`%`, `\`, `;`, `//`, `/.`,
 * non-ASCII) can have any, so the common request pays one scan and allocates nothing.
 * - decoded as written: percent-decoded once, nothing resolved (`/wp-admin/%2e%2e` → `/wp-admin/..`),
 *   what Express, Fastify and Koa route on and hand to route parameters;
 * - cut at the first `;` and normalised: Fastify with `useSemicolonDelimiter` routes `/login;x` as `/login`.
 * Not decoded twice: no router we know serves `%2577` as `w`, and a second decode would invent matches.
 */
export function pathForms(rawPath: string, normalized: string): readonly string[] | undefined {
  if (rawPath === '*' || isPlain(rawPath)) return undefined;
  let forms: string[] | undefined;
  const asWritten = percentDecode(rawPath);
  if (asWritten !== normalized) forms = [asWritten];
  const semicolon = rawPath.indexOf(';');
  if (semicolon > 0) {
    const cut = normalizePath(rawPath.slice(0, semicolon));
    if (cut !== normalized && cut !== asWritten) (forms ??= []).push(cut);
  }
  return forms;
}
