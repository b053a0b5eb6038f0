// The parameter string rules see: query and form parameters, percent-decoded (`+` as space), joined
// with `&` in the order they came. Decoding once means `%3Cscript` and `<script` look the same to a
// rule; keeping the order keeps the string stable for the same request.

import { percentDecode } from './percent-decode.js';

/** Decoded `a=1&b=2` text of a raw query or urlencoded body. Never throws. */
export function decodeParams(raw: string): string {
  return percentDecode(raw, true);
}

/** Joins the decoded query and body parameters; undefined when there are none. */
export function joinParams(query: string | undefined, body: string | undefined): string | undefined {
  if (!query) return body || undefined;
  if (!body) return query;
  return `${query}&${body}`;
}
