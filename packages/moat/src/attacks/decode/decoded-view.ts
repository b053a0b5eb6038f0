/**
 * The value as the application (or the browser behind it) may finally see it: percent-decoding,
 * HTML references and backslash escapes, repeated because attackers stack them (`%253C`, `&#x25;3C`)
 * but bounded to MAX_ROUNDS so a value can never make us loop. Returns the value itself when no layer
 * changes anything, which is how the caller knows a second look is not needed.
 */
import { decodeBackslashEscapes } from './escapes.js';
import { decodeHtmlEntities } from './html-entities.js';
import { percentDecodeOnce } from './url.js';

const MAX_ROUNDS = 3;

/** Something a decoder would change at one of `%`, `&`, `\`: a percent escape, a character reference, a backslash escape. */
const ESCAPE_AT = /%[0-9a-f]{2}|%u[0-9a-f]{4}|&#x?[0-9a-f]+|&[a-z]+;|\\[ux]/iy;
/** Characters NFKC or our slash folding would change (fullwidth, circled digits, ideographic dots, lookalike slashes). */
const COMPAT = /[\u2024-\u2027\u2044\u2215\u2216\u2460-\u24ff\u29f8\u29f9\u3002\ufe50-\ufe6b\uff01-\uff65\u00a0\u2000-\u200b]/;

/**
 * Whether ESCAPE_AT matches anywhere: tried only at each `%`, `&` and backslash, found natively. One
 * case-insensitive regex over the value tried every character, a large part of decoding 4 KiB of prose.
 */
export function hasEscape(v: string): boolean {
  return escapeFrom(v, '%') || escapeFrom(v, '&') || escapeFrom(v, '\\');
}

function escapeFrom(v: string, lead: string): boolean {
  for (let i = v.indexOf(lead); i >= 0; i = v.indexOf(lead, i + 1)) {
    ESCAPE_AT.lastIndex = i;
    if (ESCAPE_AT.test(v)) return true;
  }
  return false;
}

/** `mayHaveNonAscii`: false when the caller's scan saw only ASCII, which spares the compatibility check. */
export function decodedView(s: string, mayHaveNonAscii = true): string {
  let v = s;
  for (let round = 0; round < MAX_ROUNDS && hasEscape(v); round++) {
    let next = v;
    if (next.includes('%')) next = percentDecodeOnce(next);
    if (next.includes('&')) next = decodeHtmlEntities(next);
    if (next.includes('\\')) next = decodeBackslashEscapes(next);
    if (next === v) break;
    v = next;
  }
  // Fullwidth and other compatibility forms (＜, ｓｃｒｉｐｔ, ①②⑦) fold to ASCII under NFKC, as IDNA and
  // some back ends do; lookalike slashes (∕ ⁄) become slashes for the same reason; NUL bytes are dropped the way browsers' tokenisers skip them.
  if ((mayHaveNonAscii || v !== s) && COMPAT.test(v)) v = v.normalize('NFKC').replace(/[\u3002\uff0e\uff61]/g, '.').replace(/[\u2215\u2044\u29f8]/g, '/').replace(/[\u2216\u29f9]/g, '\\');
  if (v.includes('\0')) v = v.replaceAll('\0', '');
  return v;
}
