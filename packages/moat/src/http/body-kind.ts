// Which request bodies Moat reads: urlencoded forms (their fields are "parameters", as in Wafris) and,
// only when the user opts in, JSON. Compressed bodies are read when the app's body parser would inflate
// them too (express.urlencoded() and express.json() accept gzip, deflate, br, and zstd where Node has
// it). What Moat cannot judge is named, so the firewall can count it.

import type { IncomingHttpHeaders } from 'node:http';
import * as zlib from 'node:zlib';

export type BodyKind = 'form' | 'json';
export type ContentCoding = 'identity' | 'gzip' | 'deflate' | 'br' | 'zstd';
/** Text encodings Moat decodes a JSON body from; `utf-16` guesses the byte order as body-parser does. */
export type BodyCharset = 'utf-8' | 'utf-16' | 'utf-16le' | 'utf-16be';

/** Why a body that parameter rules would have read was not judged (in full). */
export type UninspectedReason =
  /** Longer than the read limit: judged on its first `limit` bytes only. */
  | 'tooLarge'
  /** multipart/form-data: files and fields are not parsed. */
  | 'multipart'
  /** A Content-Encoding Moat cannot inflate (or stacked codings such as `gzip, gzip`). */
  | 'encoding'
  /** A JSON charset Moat cannot decode (`utf-32`, `utf-7`). */
  | 'charset'
  /** Something had started reading the body before Moat saw the request. */
  | 'unreadable'
  /** A brotli body that found too many others waiting to be inflated (http/inflate-gate.ts). */
  | 'busy';

export interface BodyToRead {
  kind: BodyKind;
  coding: ContentCoding;
  charset: BodyCharset;
}

const zstdAvailable = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

/** The media type without parameters, lower case. */
function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** The `charset` parameter of a Content-Type, lower case and unquoted, or undefined. */
function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType);
  return match === null ? undefined : match[2]!.toLowerCase(); // the group always takes part (maybe empty)
}

/** The kind of body worth reading by its media type alone, or null. */
export function bodyKind(headers: IncomingHttpHeaders, json: boolean): BodyKind | null {
  const contentType = headers['content-type'];
  if (contentType === undefined) return null;
  const type = mediaType(contentType);
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (json && (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')))) return 'json';
  return null;
}

function contentCoding(headers: IncomingHttpHeaders): ContentCoding | null {
  const value = headers['content-encoding'];
  if (value === undefined) return 'identity';
  const coding = value.trim().toLowerCase();
  if (coding === 'identity' || coding === 'gzip' || coding === 'deflate' || coding === 'br') return coding;
  if (coding === 'zstd' && zstdAvailable) return coding;
  return null;
}

/**
 * What to do with a request's body: read it (and how), count it as not judged (and why), or leave it
 * alone (null: no parameters in it, or JSON while JSON inspection is off).
 */
export function bodyToRead(headers: IncomingHttpHeaders, json: boolean): BodyToRead | UninspectedReason | null {
  const kind = bodyKind(headers, json);
  if (kind === null) {
    const contentType = headers['content-type'];
    return contentType !== undefined && mediaType(contentType).startsWith('multipart/') ? 'multipart' : null;
  }
  const coding = contentCoding(headers);
  if (coding === null) return 'encoding';
  let charset: BodyCharset = 'utf-8';
  if (kind === 'json') {
    const declared = charsetOf(headers['content-type']!);
    if (declared === 'utf-16' || declared === 'utf-16le' || declared === 'utf-16be') charset = declared;
    // Other Unicode charsets are decoded by body-parser but not here. Non-Unicode ones are refused by
    // body-parser and ignored by parsers that read UTF-8 regardless, so UTF-8 is the reading to judge.
    else if (declared !== undefined && declared.startsWith('utf-') && declared !== 'utf-8') return 'charset';
  }
  return { kind, coding, charset };
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
