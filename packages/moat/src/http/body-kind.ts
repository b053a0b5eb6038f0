// Which request bodies Moat reads: forms, urlencoded (their fields are "parameters", as in Wafris) or
// multipart (their text fields), and, only when the user opts in, JSON. A body with a Content-Encoding is read as sent and, when Moat knows
// the coding, inflated too: express.urlencoded() and express.json() inflate gzip, deflate, br (and zstd
// where Node has it), while Bun, Deno, Fastify and Hono's parseBody() read the bytes as sent, whatever
// the header says. What Moat cannot judge is named, so the firewall can count it.

import type { IncomingHttpHeaders } from 'node:http';
import * as zlib from 'node:zlib';
import { multipartBoundaries } from './multipart-form.js';
import type { PeekedBody } from './peek-body.js';

/** `multipart`: multipart/form-data, whose text fields are read as a form's (http/multipart-form.ts). */
export type BodyKind = 'form' | 'json' | 'multipart';
export type ContentCoding = 'identity' | 'gzip' | 'deflate' | 'br' | 'zstd';
/** Text encodings Moat decodes a JSON body from; `utf-16` guesses the byte order as body-parser does. */
export type BodyCharset = 'utf-8' | 'utf-16' | 'utf-16le' | 'utf-16be';

/** Why a body that parameter rules would have read was not judged (in full). */
export type UninspectedReason =
  /** Longer than the read limit: judged on its first `limit` bytes only. */
  | 'tooLarge'
  /** multipart with no boundary, or whose boundary opens no part: no parser finds a field in it. */
  | 'multipart'
  /** A Content-Encoding Moat cannot inflate (or stacked codings such as `gzip, gzip`): judged only as sent. */
  | 'encoding'
  /** A JSON charset Moat cannot decode (`utf-32`, `utf-7`). */
  | 'charset'
  /** Something had started reading the body before Moat saw the request. */
  | 'unreadable'
  /** A brotli or zstd body that found too many others waiting to be inflated (http/inflate-gate.ts). */
  | 'busy';

export interface BodyToRead {
  kind: BodyKind;
  /** `other`: a coding Moat cannot inflate, or stacked codings (`gzip, gzip`); the bytes as sent are still judged. */
  coding: ContentCoding | 'other';
  charset: BodyCharset;
  /**
   * JSON declared as anything but JSON, a form or multipart (`text/plain`, `application/octet-stream`,
   * `text/html`), or not declared at all: Hono's `c.req.json()`, every Web `request.json()` and an
   * `express.json()` told to take every type parse a body whatever its Content-Type says. Judged only when it
   * reads as JSON.
   */
  lenient?: boolean;
  /**
   * Declared `text/plain`: Fastify's default parser and express.text() hand such a body to the route as a
   * string, so one that is not JSON is judged as that string (a JSON string value), not left alone.
   */
  text?: boolean;
  /** multipart: every boundary the Content-Type declares (http/multipart-form.ts). */
  boundaries?: readonly string[];
  /** What a parser before Moat left on `req.body` (its JSON text, or raw bytes), judged in place of the bytes it read (http/parsed-body.ts). */
  parsed?: PeekedBody;
}

const zstdAvailable = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

/** The media type without parameters, lower case. */
function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * Every `charset` value a Content-Type may be read to declare, lower case and unquoted. Every one, not
 * the first: parsers part the parameters differently (`x=";charset=utf-8"; charset=utf-16le` is
 * utf-16le to body-parser, whose parser respects the quotes, and utf-8 to a plain search).
 */
function charsetsOf(contentType: string): string[] {
  const found: string[] = [];
  for (const match of contentType.matchAll(/charset\s*=\s*("?)([^";,\s]*)\1/gi)) found.push(match[2]!.toLowerCase()); // the group always takes part
  return found;
}

const UTF16: readonly string[] = ['utf-16', 'utf-16le', 'utf-16be'];

/**
 * The kind of body worth reading by its media type alone, or null. A Content-Type holding several
 * media types (`text/plain, application/x-www-form-urlencoded`, or two Content-Type lines, which
 * Fetch's Headers joins with `, `) is read as a form (or JSON) when any of them is one: Fetch's
 * formData() takes the last valid type, other parsers the first, and reading too much is harmless.
 */
export function bodyKind(headers: IncomingHttpHeaders, json: boolean): BodyKind | null {
  const contentType = headers['content-type'];
  if (contentType === undefined) return null;
  const kind = kindOf(mediaType(contentType), json);
  // A form wins at once; JSON first in a list does not (`application/json;a=b, application/x-www-form-urlencoded`
  // is a form to Fetch's formData(), which takes the last type).
  if (kind === 'form' || contentType.indexOf(',') < 0) return kind;
  let found: BodyKind | null = null;
  for (const each of mediaTypes(contentType)) {
    const other = kindOf(mediaType(each), json);
    if (other === 'form') return other;
    found ??= other;
  }
  return found;
}

function kindOf(type: string, json: boolean): BodyKind | null {
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (json && (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')))) return 'json';
  return null;
}

/** A Content-Type split at the commas outside quoted strings, as Fetch's "extract a MIME type" splits it. */
function mediaTypes(contentType: string): string[] {
  const types: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < contentType.length; i++) {
    const c = contentType.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x2c /* , */) {
      types.push(contentType.slice(start, i));
      start = i + 1;
    }
  }
  types.push(contentType.slice(start));
  return types;
}

function contentCoding(headers: IncomingHttpHeaders): ContentCoding | 'other' {
  const value = headers['content-encoding'];
  if (value === undefined) return 'identity';
  const coding = value.trim().toLowerCase();
  if (coding === 'identity' || coding === 'gzip' || coding === 'deflate' || coding === 'br') return coding;
  if (coding === 'zstd' && zstdAvailable) return coding;
  return 'other';
}

/**
 * What to do with a request's body: read it (and how), count it as not judged (and why), or leave it
 * alone (null: no parameters in it, or JSON while JSON inspection is off).
 */
export function bodyToRead(headers: IncomingHttpHeaders, json: boolean): BodyToRead | UninspectedReason | null {
  const kind = bodyKind(headers, json);
  if (kind === null) {
    const contentType = headers['content-type'];
    // Any multipart type: formidable reads them all, busboy form-data alone. A list (`multipart/…, text/plain`) too.
    if (contentType !== undefined && mediaTypes(contentType).some((each) => mediaType(each).startsWith('multipart/'))) {
      const boundaries = multipartBoundaries(contentType);
      if (boundaries.length === 0) return 'multipart';
      return { kind: 'multipart', coding: contentCoding(headers), charset: 'utf-8', boundaries };
    }
    if (!json) return null;
    const plan: BodyToRead = { kind: 'json', coding: contentCoding(headers), charset: 'utf-8', lenient: true };
    if (contentType !== undefined && mediaTypes(contentType).some((each) => mediaType(each) === 'text/plain')) plan.text = true;
    return plan;
  }
  const coding = contentCoding(headers);
  let charset: BodyCharset = 'utf-8';
  if (kind === 'json') {
    // A UTF-16 charset is read as declared (body-parser decodes it) and as UTF-8 too (bodyTexts): Fastify,
    // Hono and every Web request.json() ignore the charset. Two different UTF-16 orders declared: the
    // order is told from the bytes. Other Unicode charsets are decoded by body-parser but not here.
    // Non-Unicode ones are refused by body-parser and ignored by parsers that read UTF-8 regardless, so
    // UTF-8 is the reading to judge.
    const declared = charsetsOf(headers['content-type']!);
    const utf16 = declared.filter((c) => UTF16.includes(c));
    if (utf16.length > 0) charset = utf16.every((c) => c === utf16[0]) ? utf16[0] as BodyCharset : 'utf-16';
    else if (declared.some((c) => c.startsWith('utf-') && c !== 'utf-8')) return 'charset';
  }
  return { kind, coding, charset };
}

/**
 * Whether a Node request has a body to come: a declared length, or on HTTP/2 (Node's compatibility API,
 * whose headers hold the pseudo-headers) headers that did not end the stream. HTTP/2 frames a body
 * itself and needs neither Content-Length nor chunked coding, so a body may come without either.
 */
export function nodeBodyFollows(req: object, headers: IncomingHttpHeaders): boolean {
  if (declaredBodyLength(headers) !== 0) return true;
  if (headers[':method'] === undefined) return false;
  // The compatibility request's stream, or a core API stream itself; none to ask: assume a body (reading
  // finds none if there is none).
  const stream = (req as { stream?: { endAfterHeaders?: unknown } }).stream ?? req as { endAfterHeaders?: unknown };
  return stream.endAfterHeaders !== true;
}

/** The declared length: a number, -1 for a chunked body of unknown length, 0 for no body. */
export function declaredBodyLength(headers: IncomingHttpHeaders): number {
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }
  return headers['transfer-encoding'] !== undefined ? -1 : 0;
}
