// Which request bodies Moat reads: urlencoded forms (their fields are "parameters", as in Wafris) and,
// only when the user opts in, JSON. Compressed bodies and everything else stream past untouched.

import type { IncomingHttpHeaders } from 'node:http';

export type BodyKind = 'form' | 'json';

/** The media type without parameters, lower case. */
function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** The kind of body worth reading, or null. */
export function bodyKind(headers: IncomingHttpHeaders, json: boolean): BodyKind | null {
  const contentType = headers['content-type'];
  if (contentType === undefined) return null;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return null;
  const type = mediaType(contentType);
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (json && (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')))) return 'json';
  return null;
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
