// A JSON body's bytes as text, the way body-parser reads them: UTF-8 unless the Content-Type names a
// UTF-16 charset (bodyTexts adds the UTF-8 reading other parsers make then), and without a leading byte-order mark (JSON.parse rejects one, body-parser drops it,
// so leaving it would hide the whole document from the rules).

import type { BodyCharset } from './body-kind.js';

const BOM = 0xfeff;

/** Byte order of a UTF-16 body without a declared one: a BOM, else the side the zero bytes of ASCII fall on. */
function utf16Order(bytes: Buffer): 'utf-16le' | 'utf-16be' {
  if (bytes.length >= 2) {
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  }
  let evenZeros = 0;
  let oddZeros = 0;
  const end = Math.min(bytes.length, 256);
  for (let i = 0; i < end; i++) if (bytes[i] === 0) (i & 1) === 0 ? evenZeros++ : oddZeros++;
  return evenZeros > oddZeros ? 'utf-16be' : 'utf-16le';
}

export function bodyText(bytes: Buffer, charset: BodyCharset): string {
  let text: string;
  const order = charset === 'utf-16' ? utf16Order(bytes) : charset;
  if (order === 'utf-8') text = bytes.toString('utf8');
  else {
    // An odd last byte is half a character of a cut body; Node drops it.
    let le = bytes;
    if (order === 'utf-16be') {
      le = Buffer.from(bytes.subarray(0, bytes.length & ~1));
      le.swap16();
    }
    text = le.toString('utf16le');
  }
  return text.charCodeAt(0) === BOM ? text.slice(1) : text;
}

/**
 * The texts a JSON body may be read as: in its declared charset and, when that is not UTF-8, in UTF-8
 * as well, which is how Fastify, Hono and Fetch's request.json() read any JSON body whatever it declares.
 */
export function bodyTexts(bytes: Buffer, charset: BodyCharset): string[] {
  const declared = bodyText(bytes, charset);
  if (charset === 'utf-8') return [declared];
  const utf8 = bodyText(bytes, 'utf-8');
  return utf8 === declared ? [declared] : [declared, utf8];
}

/** Whether `text` is a JSON document: the readings that are, are those an app acts on. */
export function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Of a body's readings (bodyTexts), those an app may act on: the ones that parse, or all when none does. */
export function jsonReadings(texts: string[]): string[] {
  if (texts.length === 1) return texts;
  const parsing = texts.filter(parsesAsJson);
  return parsing.length > 0 ? parsing : texts;
}
