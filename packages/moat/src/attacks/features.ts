/**
 * The prefilter: one pass over a value collecting which "syntax" characters it contains, as bits.
 * Every detector needs at least one of its characters to be present (a SQL string cannot be closed
 * without a quote, a tag cannot open without `<`), so a value of letters, digits, spaces and common
 * punctuation is decided clean after this loop alone — no decoding, no allocation, no tokenising.
 */
import { addWork } from './work-counter.js';

export const F_QUOTE = 1 << 0; // ' "
export const F_BACKTICK = 1 << 1;
export const F_LT = 1 << 2; // <
export const F_SEMI = 1 << 3; // ;
export const F_PIPE = 1 << 4; // |
export const F_AMP = 1 << 5; // &
export const F_DOLLAR = 1 << 6; // $
export const F_BRACE = 1 << 7; // {
export const F_PAREN = 1 << 8; // (
export const F_PERCENT = 1 << 9; // %
export const F_BACKSLASH = 1 << 10;
export const F_DOTDOT = 1 << 11; // two dots in a row
export const F_SLASH = 1 << 12; // /
export const F_COLON = 1 << 13; // :
export const F_EQ = 1 << 14; // =
export const F_NEWLINE = 1 << 15; // \n \r
export const F_BRACKET = 1 << 16; // [
export const F_UNDERSCORE2 = 1 << 17; // two underscores in a row
export const F_HASH = 1 << 18; // #
export const F_AT = 1 << 19; // @
export const F_DASH2 = 1 << 20; // -- (SQL comment)
export const F_NONASCII = 1 << 21;
export const F_PLUS = 1 << 22;
export const F_DOT = 1 << 23;
export const F_STAR = 1 << 24;
export const F_CONTROL = 1 << 25; // tab, NUL and other C0 controls besides \n \r
/** Value begins like a number or a parenthesis: the numeric SQL context. */
export const F_NUMERIC_START = 1 << 26;

const TABLE = new Uint32Array(128);
TABLE[0x27] = F_QUOTE;
TABLE[0x22] = F_QUOTE;
TABLE[0x60] = F_BACKTICK;
TABLE[0x3c] = F_LT;
TABLE[0x3b] = F_SEMI;
TABLE[0x7c] = F_PIPE;
TABLE[0x26] = F_AMP;
TABLE[0x24] = F_DOLLAR;
TABLE[0x7b] = F_BRACE;
TABLE[0x28] = F_PAREN;
TABLE[0x25] = F_PERCENT;
TABLE[0x5c] = F_BACKSLASH;
TABLE[0x2f] = F_SLASH;
TABLE[0x3a] = F_COLON;
TABLE[0x3d] = F_EQ;
TABLE[0x0a] = F_NEWLINE;
TABLE[0x0d] = F_NEWLINE;
TABLE[0x5b] = F_BRACKET;
TABLE[0x23] = F_HASH;
TABLE[0x40] = F_AT;
TABLE[0x2b] = F_PLUS;
TABLE[0x2e] = F_DOT;
TABLE[0x2a] = F_STAR;
for (let c = 0; c < 0x20; c++) if (c !== 0x0a && c !== 0x0d) TABLE[c] = F_CONTROL;
TABLE[0x7f] = F_CONTROL;

/** The feature bit(s) of each ASCII character (pairs such as `..` aside), for readers of raw text (raw-form-field.ts). */
export function featureTable(): Readonly<Uint32Array> {
  return TABLE;
}

/**
 * Above this length the bits come from native searches (indexOf and one-class regexes run as
 * memchr-like loops in V8, several times faster per character than a JavaScript loop on long text);
 * below it one JavaScript pass is cheaper than starting ~25 searches. Measured by bench/attacks-bench.ts.
 */
const NATIVE_SCAN_FROM = 192;

const NATIVE_CHARS: readonly [string, number][] = [
  ["'", F_QUOTE], ['"', F_QUOTE], ['`', F_BACKTICK], ['<', F_LT], [';', F_SEMI], ['|', F_PIPE], ['&', F_AMP], ['$', F_DOLLAR], ['{', F_BRACE],
  ['(', F_PAREN], ['%', F_PERCENT], ['\\', F_BACKSLASH], ['/', F_SLASH], [':', F_COLON], ['=', F_EQ], ['\n', F_NEWLINE], ['\r', F_NEWLINE], ['[', F_BRACKET],
  ['#', F_HASH], ['@', F_AT], ['+', F_PLUS], ['.', F_DOT], ['*', F_STAR], ['..', F_DOTDOT], ['__', F_UNDERSCORE2], ['--', F_DASH2],
];
const NON_ASCII = /[^\x00-\x7f]/;

/** Feature bits of `s` (see the F_ constants). */
export function scanFeatures(s: string): number {
  const n = s.length;
  addWork(n);
  return n >= NATIVE_SCAN_FROM ? nativeFeatures(s) : loopFeatures(s, n);
}

function loopFeatures(s: string, n: number): number {
  let bits = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      bits |= TABLE[c]!; // c < 128: inside the table
      // Pairs that matter: `..` (traversal), `__` (__proto__), `--` (SQL comment).
      if (c === prev) {
        if (c === 0x2e) bits |= F_DOTDOT;
        else if (c === 0x5f) bits |= F_UNDERSCORE2;
        else if (c === 0x2d) bits |= F_DASH2;
      }
    } else bits |= F_NONASCII;
    prev = c;
  }
  if (n > 0 && numericStart(s, 0, n)) bits |= F_NUMERIC_START;
  return bits;
}

/**
 * Whether `s[from, to)` begins like a number — after any `(`, `-`, `+`, `~` or white space (`+` is also
 * a space once the app decodes a form) — and holds more after that number: the numeric SQL context the
 * SQL detector reads. A value of digits only (`page=12`, an id) ends the context with nothing after it,
 * so no SQL follows. `NULL …`, `(SELECT …` and `(CASE …` stand where a number would, and count too.
 */
function numericStart(s: string, from: number, to: number): boolean {
  let i = from;
  while (i < to && isNumberPrefix(s.charCodeAt(i))) i++;
  const d = s.charCodeAt(i);
  // Not a digit: only `NULL`, `(SELECT` or `(CASE` can still open the context (apart, so this stays small).
  if (i >= to || d < 0x30 || d > 0x39) return i < to && ((d | 0x20) === 0x6e || i > from) && wordStart(s, from, i, to);
  for (i++; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return true;
  }
  return false;
}

/** numericStart() for a value whose prefix (`from` to `i`) is followed by a letter: `NULL …`, or after a `(`, `SELECT …`/`CASE …`. */
function wordStart(s: string, from: number, i: number, to: number): boolean {
  const l = s.charCodeAt(i) | 0x20;
  if (l === 0x6e) return wordThenMore(s, i, to, 'null');
  let paren = false;
  for (let k = from; k < i; k++) if (s.charCodeAt(k) === 0x28) paren = true;
  return paren && ((l === 0x73 && wordThenMore(s, i, to, 'select')) || (l === 0x63 && wordThenMore(s, i, to, 'case')));
}

/** Whether `s` holds the lower-case word `w` at `i` (in any case), ended by a character that is no letter, digit or `_`, before `to`. */
function wordThenMore(s: string, i: number, to: number, w: string): boolean {
  const end = i + w.length;
  if (end >= to) return false;
  for (let k = 0; k < w.length; k++) if ((s.charCodeAt(i + k) | 0x20) !== w.charCodeAt(k)) return false;
  const c = s.charCodeAt(end);
  return !((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c > 0x7f);
}

function isNumberPrefix(c: number): boolean {
  return c === 0x28 || c === 0x2d || c === 0x20 || c === 0x2b || c === 0x7e || (c >= 0x09 && c <= 0x0d);
}

function nativeFeatures(s: string): number {
  let bits = 0;
  for (const [ch, bit] of NATIVE_CHARS) if ((bits & bit) === 0 && s.includes(ch)) bits |= bit;
  if (NON_ASCII.test(s)) bits |= F_NONASCII;
  // F_CONTROL is informational (no detector needs it); a regex for it would cost more than the rest.
  if (s.includes('\t') || s.includes('\0')) bits |= F_CONTROL;
  if (numericStart(s, 0, s.length)) bits |= F_NUMERIC_START;
  return bits;
}

/**
 * Feature bits of `s[from, to)`, one part of a raw query string or form body, as the app's parser
 * will decode it — computed before decoding, so a clean parameter costs this loop and nothing else (no
 * slice, no decode, no memo). Only when decoding is trivial: with no `%` escape and no non-ASCII byte
 * the decoded text is the raw text with `+` read as a space, so its bits are the raw bits with `+`
 * counted as a space. Returns -1 otherwise (the caller decodes and scans the decoded text).
 */
export function rawPartFeatures(s: string, from: number, to: number): number {
  addWork(to - from);
  let bits = 0;
  let prev = 0;
  for (let i = from; i < to; i++) {
    let c = s.charCodeAt(i);
    if (c >= 128 || c === 0x25) return -1;
    if (c === 0x2b) c = 0x20;
    bits |= TABLE[c]!; // c < 128: inside the table
    if (c === prev) {
      if (c === 0x2e) bits |= F_DOTDOT;
      else if (c === 0x5f) bits |= F_UNDERSCORE2;
      else if (c === 0x2d) bits |= F_DASH2;
    }
    prev = c;
  }
  if (to > from && numericStart(s, from, to)) bits |= F_NUMERIC_START;
  return bits;
}

/** Characters that mean an encoding layer could hide something: worth decoding. */
export const F_ENCODED = F_PERCENT | F_AMP | F_BACKSLASH | F_NONASCII | F_PLUS;

/**
 * Feature bits of a long value, only as many as it takes to decide each gate in `gates` (one per
 * enabled category, its feature mask): for each gate the value is searched for that gate's characters
 * until one is found, and a character is searched for once. `(result & gate) !== 0` exactly when
 * `(scanFeatures(s) & gate) !== 0`, from a third of the searches on prose, where every category's
 * first character is found at once.
 */
export function gateFeatures(s: string, gates: readonly number[]): number {
  addWork(s.length);
  let present = s.length > 0 && numericStart(s, 0, s.length) ? F_NUMERIC_START : 0;
  let searched = 0;
  for (const gate of gates) {
    if (present & gate) continue;
    for (let k = 0; k < NATIVE_CHARS.length; k++) {
      const [ch, bit] = NATIVE_CHARS[k]!;
      if ((bit & gate) === 0 || (searched & (1 << k)) !== 0) continue;
      searched |= 1 << k;
      if (s.includes(ch)) {
        present |= bit;
        break;
      }
    }
  }
  return present;
}

/**
 * Only the F_ENCODED bits of `s`, from five native searches: what decides whether a long value is read
 * decoded. `ascii`: the caller knows `s` is all ASCII (a form decoder does), which spares the non-ASCII
 * search, a regex over every character of ASCII text and the largest part of this function's cost.
 */
export function encodingFeatures(s: string, ascii = false): number {
  addWork(s.length);
  let bits = 0;
  if (s.includes('%')) bits |= F_PERCENT;
  if (s.includes('&')) bits |= F_AMP;
  if (s.includes('\\')) bits |= F_BACKSLASH;
  if (s.includes('+')) bits |= F_PLUS;
  if (!ascii && NON_ASCII.test(s)) bits |= F_NONASCII;
  return bits;
}

/** What `\s` matches in a JavaScript regular expression: for detectors that read backwards from an anchor instead of running a regex over every character. */
export function isRegexSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
