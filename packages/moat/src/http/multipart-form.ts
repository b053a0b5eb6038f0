// multipart/form-data bodies as the urlencoded form the rest of the body path already judges. Multer
// (busboy), Fastify's multipart, formidable, Hono's parseBody() and Fetch's request.formData() all hand
// an app the text fields of such a body, so a field there is a parameter like any other.
//
// Parsers disagree at the edges, and the request is blocked when any reading matches, so every reading
// an app may act on becomes fields here:
// - Parts are found twice: at a boundary after CRLF (busboy, undici) and after a bare LF (lenient
//   parsers). Where the two differ, the fields of both are judged.
// - A part is a file, whose content is not judged, only when every parser reads it as one: a non-empty
//   `filename` and a Content-Type. busboy reads `filename=""` as a field, undici reads an
//   `application/octet-stream` part without a filename as one, and a naive parser that splits at every
//   `--boundary` finds fields inside a file that holds one, so such content is judged too.
// - Quoted parameters are read with and without backslash escapes; a part naming several different
//   names is judged under none (so no exclusion by field name applies to it).
// - A part declaring a UTF-16 charset is read in it (busboy decodes it) and as UTF-8 (undici does not).
// A file's name is judged as the field `<name>.filename` (apps store uploads under it).

import { bodyText } from './body-text.js';

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;

/** Distinct boundaries judged at most: the first two and the last two a Content-Type declares. */
const MAX_BOUNDARIES = 4;
/** RFC 2046 bounds a boundary to 70 characters; busboy and undici take longer ones, so a little slack. */
const MAX_BOUNDARY_LENGTH = 200;

/**
 * Every `boundary` parameter of a Content-Type, unquoted, in order and distinct (parsers take the first
 * or the last of several). Empty when there is none: no parser finds a part then.
 */
export function multipartBoundaries(contentType: string): string[] {
  const found: string[] = [];
  for (const match of contentType.matchAll(/;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^";,\s]+))/gi)) {
    const boundary = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
    if (boundary.length > 0 && boundary.length <= MAX_BOUNDARY_LENGTH && !found.includes(boundary)) found.push(boundary);
  }
  return found.length <= MAX_BOUNDARIES ? found : [...found.slice(0, 2), ...found.slice(-2)];
}

/**
 * The fields of a multipart body as urlencoded form bytes (`name=value&…`, only `%`, `&`, `+` and a
 * name's `=` escaped, so the text reads as sent), or null when no boundary opens a part. A body cut at
 * the read limit gives its last part as far as it goes.
 */
export function multipartAsForm(bytes: Buffer, boundaries: readonly string[]): Buffer | null {
  // One list of fields per reading; a Set merges them only when there are several.
  const readings: Field[][] = [];
  for (const boundary of boundaries) {
    const delimiter = Buffer.from(`--${boundary}`, 'latin1');
    const { strict, lenient } = delimiterPositions(bytes, delimiter);
    readings.push(readParts(bytes, delimiter, strict, true));
    if (lenient.length !== strict.length) readings.push(readParts(bytes, delimiter, lenient, false));
  }
  const opened = readings.filter((fields) => fields.length > 0);
  if (opened.length === 0) return null;
  const fields = opened.length === 1 ? opened[0]! : distinct(opened.flat());
  // Pieces of the body itself where nothing needed escaping: one copy, here.
  const pieces: Buffer[] = [];
  for (const [key, value] of fields) pieces.push(key, value, AMPERSAND);
  pieces.pop();
  return Buffer.concat(pieces);
}

/** `name=` and the value, as form bytes. */
type Field = [key: Buffer, value: Buffer];

const AMPERSAND = Buffer.from('&');

function distinct(fields: readonly Field[]): Field[] {
  const seen = new Set<string>();
  return fields.filter(([key, value]) => {
    const text = key.toString('latin1') + value.toString('latin1');
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

/**
 * Where delimiter lines start: at the body's start or after CRLF (`strict`), or after any LF
 * (`lenient`, which holds every strict one).
 */
function delimiterPositions(bytes: Buffer, delimiter: Buffer): { strict: number[]; lenient: number[] } {
  const strict: number[] = [];
  const lenient: number[] = [];
  for (let at = bytes.indexOf(delimiter); at >= 0; at = bytes.indexOf(delimiter, at + 1)) {
    if (at !== 0 && bytes[at - 1] !== LF) continue;
    lenient.push(at);
    if (at === 0 || (at >= 2 && bytes[at - 2] === CR)) strict.push(at);
  }
  return { strict, lenient };
}

/** The fields of the parts that open at `positions` (a part with no field adds none). */
function readParts(bytes: Buffer, delimiter: Buffer, positions: readonly number[], strict: boolean): Field[] {
  const fields: Field[] = [];
  for (let i = 0; i < positions.length; i++) {
    const after = positions[i]! + delimiter.length;
    if (bytes[after] === DASH && bytes[after + 1] === DASH) break; // the close delimiter: the rest is epilogue
    const lineEnd = bytes.indexOf(LF, after);
    if (lineEnd < 0) break;
    const next = positions[i + 1];
    const partEnd = next === undefined ? bytes.length : next - (strict ? 2 : bytes[next - 2] === CR ? 2 : 1);
    if (partEnd <= lineEnd) continue;
    addPart(bytes, partHeaders(bytes, lineEnd + 1, partEnd), partEnd, delimiter, fields);
  }
  return fields;
}

interface PartHead {
  /** Where the content starts (after the blank line), or -1 when the headers never ended. */
  contentStart: number;
  disposition: string[];
  contentType: string[];
}

/** A part's headers (names in any case, folded lines joined), read up to its first blank line. */
function partHeaders(bytes: Buffer, start: number, end: number): PartHead {
  const head: PartHead = { contentStart: -1, disposition: [], contentType: [] };
  const lines: string[] = [];
  let at = start;
  while (at < end) {
    let lineEnd = bytes.indexOf(LF, at);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end;
    const stop = lineEnd > at && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (stop === at && lineEnd < end) {
      head.contentStart = lineEnd + 1;
      break;
    }
    // Only Content-* headers and their folded lines are made text: a part of 20,000 other header
    // lines took 4 ms as strings. An empty entry stands for another header, so its folds join nothing.
    const first = bytes[at];
    const last = lines.length - 1;
    if ((first === 0x20 || first === 0x09) && last >= 0) {
      if (lines[last] !== '') lines[last] += ` ${bytes.toString('latin1', at, stop).trim()}`;
    } else if (first === 0x43 || first === 0x63 || first === 0x20 || first === 0x09) lines.push(bytes.toString('latin1', at, stop));
    else if (last < 0 || lines[last] !== '') lines.push('');
    at = lineEnd + 1;
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === 'content-disposition') head.disposition.push(line.slice(colon + 1));
    else if (name === 'content-type') head.contentType.push(line.slice(colon + 1));
  }
  return head;
}

function addPart(bytes: Buffer, head: PartHead, end: number, delimiter: Buffer, fields: Field[]): void {
  const names = new Set<string>();
  const filenames = new Set<string>();
  for (const disposition of head.disposition) {
    for (const [param, values] of dispositionParams(disposition)) {
      if (param === 'name' || param === 'name*') for (const v of values) names.add(param === 'name*' ? extendedValue(v) : v);
      else if (param === 'filename' || param === 'filename*') {
        for (const v of values) if (v !== '') filenames.add(param === 'filename*' ? extendedValue(v) : v);
      }
    }
  }
  const [only] = names;
  // Several names: whichever a parser takes, the content is judged under none of them.
  const name = names.size === 1 && only !== undefined ? only : '';
  for (const filename of filenames) fields.push([Buffer.from(`${formText(name, true)}.filename=`, 'latin1'), Buffer.from(formText(filename, false), 'latin1')]);
  const contentStart = head.contentStart;
  if (contentStart < 0) return;
  if (isFileToEveryParser(head) && bytes.subarray(contentStart, end).indexOf(delimiter) < 0) return;
  const key = Buffer.from(`${formText(name, true)}=`, 'latin1');
  fields.push([key, formBytes(bytes, contentStart, end)]);
  const charset = partCharset(head.contentType);
  if (charset !== null) {
    const decoded = Buffer.from(bodyText(bytes.subarray(contentStart, end), charset), 'utf8');
    fields.push([key, formBytes(decoded, 0, decoded.length)]);
  }
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** A Content-Disposition as a browser writes it: a type, then `; name=value` pairs, quoted or not. */
const STRICT_DISPOSITION = new RegExp(`^\\s*(${TOKEN})((?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\]|\\\\.)*"))*)\\s*$`);

/**
 * Whether every parser reads the part as a file: the form a browser sends (one well-formed
 * `form-data` disposition with one name and one non-empty `filename` free of escapes, no `filename*`,
 * one Content-Type). busboy reads an empty filename as a field, formidable a part without a type.
 */
function isFileToEveryParser(head: PartHead): boolean {
  if (head.disposition.length !== 1 || head.contentType.length !== 1) return false;
  const match = STRICT_DISPOSITION.exec(head.disposition[0]!);
  if (match === null || match[1]!.toLowerCase() !== 'form-data') return false;
  let names = 0;
  let filename: string | null = null;
  for (const [param, values] of dispositionParams(match[2]!)) {
    if (param === 'name') names++;
    else if (param === 'filename') {
      if (filename !== null || values.length !== 1) return false;
      filename = values[0]!;
    } else if (param.endsWith('*')) return false;
  }
  return names === 1 && filename !== null && filename !== '' && !filename.includes('\\');
}

/** A UTF-16 charset a part's Content-Type declares (busboy decodes the field in it), else null. */
function partCharset(contentTypes: readonly string[]): 'utf-16' | 'utf-16le' | 'utf-16be' | null {
  for (const type of contentTypes) {
    const match = /charset\s*=\s*"?(utf-16(?:le|be)?)\b/i.exec(type);
    if (match !== null) return match[1]!.toLowerCase() as 'utf-16' | 'utf-16le' | 'utf-16be';
  }
  return null;
}

/**
 * A Content-Disposition's parameters, names lower case, each with its readings: a quoted value with
 * backslash escapes resolved (busboy) and as written up to the next quote (undici).
 */
function dispositionParams(disposition: string): [string, string[]][] {
  const params: [string, string[]][] = [];
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^;]*))/g;
  for (let match = pattern.exec(disposition); match !== null; match = pattern.exec(disposition)) {
    const param = match[1]!.toLowerCase();
    const quoted = match[2];
    if (quoted === undefined) params.push([param, [match[3]!.trim()]]);
    else if (!quoted.includes('\\')) params.push([param, [quoted]]);
    else {
      const quote = quoted.indexOf('"');
      params.push([param, [quoted.replace(/\\(.)/g, '$1'), quote < 0 ? quoted : quoted.slice(0, quote)]]);
    }
  }
  return params;
}

/** An RFC 5987 value (`utf-8''%2e%2e`), decoded; as written when it is not one. */
function extendedValue(value: string): string {
  const match = /^[^']*'[^']*'(.*)$/.exec(value);
  if (match === null) return value;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return match[1]!;
  }
}

/** Text as form text (latin1 characters of its UTF-8): `%`, `&`, `+` and, in a name, `=` escaped. */
function formText(text: string, isName: boolean): string {
  const bytes = Buffer.from(text, 'utf8');
  const escaped = formBytes(bytes, 0, bytes.length).toString('latin1');
  return isName ? escaped.replace(/=/g, '%3D') : escaped;
}

/** Bytes as form bytes, with `%`, `&` and `+` escaped: the bytes themselves when none is there. */
function formBytes(bytes: Buffer, start: number, end: number): Buffer {
  const value = bytes.subarray(start, end);
  // Searched in the bytes (memchr) rather than by a regular expression over their text: 10× faster on 64 KiB.
  if (value.indexOf(0x25) < 0 && value.indexOf(0x26) < 0 && value.indexOf(0x2b) < 0) return value;
  return Buffer.from(value.toString('latin1').replace(/[%&+]/g, (c) => (c === '%' ? '%25' : c === '&' ? '%26' : '%2B')), 'latin1');
}
