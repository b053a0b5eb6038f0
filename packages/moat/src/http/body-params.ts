// A peeked body as parameter text: a form is decoded like a query; JSON is flattened. A body cut at
// the size limit is judged on what was read (for JSON, as raw text, since it no longer parses).

import type { BodyKind } from './body-kind.js';
import { jsonToParams } from './json-params.js';
import type { PeekedBody } from './peek-body.js';
import { decodeParams } from './request-params.js';

export function bodyParams(body: PeekedBody, kind: BodyKind): string {
  // latin1 keeps every byte as one character; decoding then reads them as UTF-8.
  if (kind === 'form') return decodeParams(body.bytes.toString('latin1'));
  const text = body.bytes.toString('utf8');
  return body.complete ? jsonToParams(text) : text;
}
