// A peeked (and, if it was compressed, inflated) body as parameter text: a form is decoded like a
// query; JSON is flattened. A body cut at the size limit is judged on what was read (for JSON, as raw
// text, since it no longer parses).

import type { BodyCharset, BodyKind } from './body-kind.js';
import { bodyText } from './body-text.js';
import { jsonToParams } from './json-params.js';
import type { PeekedBody } from './peek-body.js';
import { decodeParams } from './request-params.js';

export function bodyParams(body: PeekedBody, kind: BodyKind, charset: BodyCharset = 'utf-8'): string {
  // latin1 keeps every byte as one character; decoding then reads them as UTF-8.
  if (kind === 'form') return decodeParams(body.bytes.toString('latin1'));
  const text = bodyText(body.bytes, charset);
  return body.complete ? jsonToParams(text) : text;
}
