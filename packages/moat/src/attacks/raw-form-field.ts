/**
 * A long form field judged on its raw, percent-encoded text, without decoding it: decoding a 4 KiB
 * field costs several times more than every native search the detectors then run on ordinary prose
 * (profile of bench/attacks-bench.ts's 64 KiB form bodies), and on such prose it cannot matter.
 *
 * `rawFieldIsClean` returns true only when detectAttack() of the decoded field (percentDecode(raw,
 * true), the long-value path) would return null for `enabled`; false means "decode and examine as
 * before", never "attack". It proves it from:
 * - the raw characters, found by native searches (`+` is a space once decoded, so it is not searched);
 * - every escape, read once: an escape of a byte above 0x7f, of a letter or digit (browsers never send
 *   one: an evasion), an invalid `%` or an escape of a character a remaining check needs sends the
 *   field to decoding;
 * - then per category: a category none of whose characters is present is skipped by detectAttack too;
 *   NoSQL, SSRF and prototype are decided by the absence of their anchors (`$`, `;`, `||`, `&&`; a
 *   colon in a value over 512 characters; `proto`); SQL reads each of its contexts from a short
 *   decoded window where it starts (the first quote of each kind, the value's start) and answers only
 *   when it never read to the window's end (sqlLiteralInWindow); XSS, traversal, shell, template and
 *   any encoding layer (`%25`, `%26`, `%2B`, backslash) are never decided here.
 * A property test (attacks-raw-form-field.test.ts) checks that a true here is always null there.
 * `rawFieldIsCleanMarked` gives the same answer for a field of an ASCII body from the marks of one SIMD
 * pass over the whole body (byte-scan/), sifted or not (form-sieve.ts), checked equal by attacks-byte-scan.test.ts.
 */
import { MoatError } from '../errors/moat-error.js';
import { percentDecode } from '../http/percent-decode.js';
import { LONG_VALUE, MAX_VALUE } from './detect-attack.js';
import {
  F_AMP, F_BACKSLASH, F_BACKTICK, F_BRACE, F_BRACKET, F_COLON, F_DASH2, F_DOLLAR, F_DOT, F_DOTDOT, F_ENCODED, F_EQ, F_HASH, F_LT, F_NEWLINE,
  F_PAREN, F_PIPE, F_QUOTE, F_SEMI, F_SLASH, F_STAR, F_AT, F_UNDERSCORE2, featureTable,
} from './features.js';
import { SHELL_FEATURES } from './shell/detect-shell.js';
import { sqlLiteralInWindow, sqlNumberInWindow } from './sqli/detect-sqli.js';
import { TEMPLATE_FEATURES } from './template/detect-template-injection.js';
import { TRAVERSAL_FEATURES } from './traversal/detect-traversal.js';
import { ALL_ATTACK_CATEGORIES, B_NOSQL, B_PROTOTYPE, B_SHELL, B_SQLI, B_SSRF, B_TEMPLATE, B_TRAVERSAL, B_XSS, type AttackCategorySet, type Finding } from './types.js';
import { addWork } from './work-counter.js';
import { byteSetTables, type ByteScanner } from './byte-scan/byte-scanner.js';
import { DOUBLE_QUOTE, HARMLESS_ESCAPE, KEPT, SINGLE_QUOTE, formSieve } from './byte-scan/form-sieve.js';
import { XSS_FEATURES } from './xss/detect-xss.js';


/**
 * From this raw length a field may be judged raw. Its decoded text must also exceed LONG_VALUE (checked
 * once its escapes are counted): the long-value path of detectAttack is the one this reading proves.
 */
export const RAW_FIELD_FROM = 1088;

/** Searchable characters and the feature bit each gives the decoded text. `%` and `+` are not here: they do not survive decoding as themselves. */
const RAW_CHARS: readonly [string, number][] = [
  ["'", F_QUOTE], ['"', F_QUOTE], ['`', F_BACKTICK], ['<', F_LT], [';', F_SEMI], ['|', F_PIPE], ['&', F_AMP], ['$', F_DOLLAR], ['{', F_BRACE],
  ['(', F_PAREN], ['\\', F_BACKSLASH], ['/', F_SLASH], [':', F_COLON], ['=', F_EQ], ['\n', F_NEWLINE], ['\r', F_NEWLINE], ['[', F_BRACKET],
  ['#', F_HASH], ['@', F_AT], ['.', F_DOT], ['*', F_STAR], ['..', F_DOTDOT], ['__', F_UNDERSCORE2], ['--', F_DASH2],
];

/** For each category set: the feature bits that send a field to decoding, and which RAW_CHARS to search for them (indices). */
interface RawPlan {
  refuse: number;
  search: readonly number[];
  /** The bytes a byte scan of the body marks for this set (byteSetTables; `..` and `pr` are always marked, at their second byte). */
  marked: Uint8Array;
  /** By ASCII code: 1 for the single characters of `search` (a field holding one is refused). */
  searched: Uint8Array;
  /** formSieve() for this set (32 KiB, made on first use). */
  sieve: Uint8Array | null;
}

const PLANS: RawPlan[] = Array.from({ length: ALL_ATTACK_CATEGORIES + 1 }, (_, enabled) => {
  let refuse = F_ENCODED;
  if (enabled & B_XSS) refuse |= XSS_FEATURES;
  if (enabled & B_TRAVERSAL) refuse |= TRAVERSAL_FEATURES;
  if (enabled & B_SHELL) refuse |= SHELL_FEATURES;
  if (enabled & B_TEMPLATE) refuse |= TEMPLATE_FEATURES;
  // detectNosql reads only from a `$` and from `;`, `||`, `&&`.
  if (enabled & B_NOSQL) refuse |= F_DOLLAR | F_SEMI | F_PIPE | F_AMP;
  // Over 512 characters detectSsrf reads only URLs, found at `:/` and `:\`.
  if (enabled & B_SSRF) refuse |= F_COLON;
  // A backquoted name is read from its first backtick to the value's end (detect-sqli.ts inIdentifier): decoded whole.
  if (enabled & B_SQLI) refuse |= F_BACKTICK;
  const search: number[] = [];
  RAW_CHARS.forEach(([, bit], k) => {
    if (bit & refuse) search.push(k);
  });
  // The byte scan marks every single searched character, `%` (each escape is read), the quotes when SQL
  // reads them, and `&` and `=` for the sift to tell fields apart; it marks `..` and `pr` itself.
  for (const k of search) {
    // rawFieldIsCleanMarked reads a marked dot or `r` as the end of a pair the scan marks, and no other pair.
    if (['.', 'p', '__', '--'].includes(RAW_CHARS[k]![0])) throw new MoatError('MOAT_ERR_INTERNAL', `the byte scan cannot mark ${RAW_CHARS[k]![0]}`);
  }
  const marked = [0x25, 0x26, 0x3d, ...search.map((k) => RAW_CHARS[k]![0]).filter((ch) => ch.length === 1).map((ch) => ch.charCodeAt(0))];
  if (enabled & B_SQLI) marked.push(0x27, 0x22);
  const searched = new Uint8Array(128);
  for (const k of search) if (RAW_CHARS[k]![0].length === 1) searched[RAW_CHARS[k]![0].charCodeAt(0)] = 1;
  return { refuse, search, marked: byteSetTables(new Set(marked)), searched, sieve: null };
});

/** The byte set to scan a form body for, for `enabled` (ByteScanner.scan or scanForm, then rawFieldIsCleanMarked). */
export function bodyScanTables(enabled: AttackCategorySet): Uint8Array {
  return PLANS[enabled & ALL_ATTACK_CATEGORIES]!.marked; // masked to the table's size
}

/**
 * The sift's tables for `enabled` (ByteScanner.scanForm with bodyScanTables() of the same set): an escape
 * rawFieldIsCleanMarked would pass without noting it (valid, not refused, no quote) is dropped.
 */
export function bodyScanSieve(enabled: AttackCategorySet): Uint8Array {
  const plan = PLANS[enabled & ALL_ATTACK_CATEGORIES]!; // masked to the table's size
  return (plan.sieve ??= formSieve((c1, c2) => {
    const bits = ESCAPES[(c1 << 7) | c2]!;
    if (bits < 0 || bits & plan.refuse) return KEPT;
    return bits & E_SINGLE ? SINGLE_QUOTE : bits & E_DOUBLE ? DOUBLE_QUOTE : HARMLESS_ESCAPE;
  }));
}

/** Hint bits beyond the RAW_CHARS indices: `proto` occurs, a character above 0x7f occurs. */
const H_PROTO = 1 << RAW_CHARS.length;
const H_NONASCII = H_PROTO << 1;

/** No hint: anything may be present in a field. */
export const UNKNOWN_BODY = (H_NONASCII << 1) - 1;

/**
 * What a whole form body may hold, for rawFieldIsClean: a character absent from the body is absent
 * from each of its fields, so the body is searched once per character (a search stops at the first
 * find) instead of every field being searched for it. Ordinary prose holds none of them.
 */
export function rawBodyHints(body: string, enabled: AttackCategorySet): number {
  let hints = 0;
  for (const k of PLANS[enabled & ALL_ATTACK_CATEGORIES]!.search) if (body.includes(RAW_CHARS[k]![0])) hints |= 1 << k;
  if (body.includes('proto')) hints |= H_PROTO;
  if (Buffer.byteLength(body, 'utf8') !== body.length) hints |= H_NONASCII;
  return hints;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** Marks of an escaped quote in ESCAPES, above every feature bit. */
const E_SINGLE = 1 << 29;
const E_DOUBLE = 1 << 30;

/**
 * What the escape `%` + two characters (both below 0x80, indexed `c1 << 7 | c2`) puts in the decoded
 * text: its feature bits (an escaped dot, underscore or dash also as a pair, since it may pair with a raw
 * one: `.%2e`) and quote marks; -1 when this reading cannot judge it: not a valid escape (the `%` stays),
 * a byte above 0x7f, or a letter or digit (browsers never escape those: an evasion). One table lookup
 * per escape, which on prose as browsers encode it (`%27`, `%2C` every few words) is most of the work.
 */
const ESCAPES = (() => {
  const table = featureTable();
  const out = new Int32Array(128 * 128).fill(-1);
  for (let c1 = 0; c1 < 128; c1++) {
    for (let c2 = 0; c2 < 128; c2++) {
      const hi = hexValue(c1);
      const lo = hexValue(c2);
      if (hi < 0 || lo < 0) continue;
      const b = (hi << 4) | lo;
      if (b >= 0x80 || (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a)) continue;
      out[(c1 << 7) | c2] = table[b]! | (b === 0x2e ? F_DOTDOT : b === 0x5f ? F_UNDERSCORE2 : b === 0x2d ? F_DASH2 : 0) | (b === 0x27 ? E_SINGLE : b === 0x22 ? E_DOUBLE : 0);
    }
  }
  return out;
})();

/**
 * Whether detectAttack(percentDecode(raw, true), …, enabled) is surely null; false: decode and see.
 * `body`: rawBodyHints() of the body the field is part of, for the same or more categories.
 */
export function rawFieldIsClean(raw: string, enabled: AttackCategorySet, body = UNKNOWN_BODY): boolean {
  const n = raw.length;
  if (n < RAW_FIELD_FROM || n > MAX_VALUE) return false;
  // Raw bytes above 0x7f (UTF-8 or latin1 in the body) make a non-ASCII decoded text: not judged here.
  if (body & H_NONASCII && Buffer.byteLength(raw, 'utf8') !== n) return false;
  const plan = PLANS[enabled & ALL_ATTACK_CATEGORIES]!; // masked to the table's size
  let escapes = 0;
  // The first escape of each quote kind, which SQL's window must cover.
  let single = -1;
  let double = -1;
  for (let i = raw.indexOf('%'); i >= 0; i = raw.indexOf('%', i + 3)) {
    // Past the end charCodeAt gives NaN, which indexes the table's invalid (0, 0) entry.
    const c1 = raw.charCodeAt(i + 1);
    const c2 = raw.charCodeAt(i + 2);
    if ((c1 | c2) >= 0x80) return false;
    const bits = ESCAPES[(c1 << 7) | c2]!;
    // An invalid escape (the `%` stays in the decoded text: an encoding layer), or one refused.
    if (bits < 0 || bits & plan.refuse) return false;
    if (bits & E_SINGLE) {
      if (single < 0) single = i;
    } else if (bits & E_DOUBLE && double < 0) double = i;
    escapes++;
  }
  if (n - 2 * escapes <= LONG_VALUE) return false;
  addWork(n);
  for (const k of plan.search) if (body & (1 << k) && raw.includes(RAW_CHARS[k]![0])) return false;
  if (enabled & B_PROTOTYPE && body & H_PROTO && raw.includes('proto')) return false;
  if (enabled & B_SQLI) {
    const rawSingle = raw.indexOf("'");
    const rawDouble = raw.indexOf('"');
    if (rawSingle >= 0 && (single < 0 || rawSingle < single)) single = rawSingle;
    if (rawDouble >= 0 && (double < 0 || rawDouble < double)) double = rawDouble;
    // Each context read from a decoded window that starts where it starts (the first quote of its
    // kind, or the value's start); there are no backslashes (F_BACKSLASH is refused above).
    if (single >= 0 && !contractionAt(raw, single) && !windowIsClean(raw, single, (w, last) => sqlLiteralInWindow(w, last, 0x27))) return false;
    if (double >= 0 && !windowIsClean(raw, double, (w, last) => sqlLiteralInWindow(w, last, 0x22))) return false;
    if (startsLikeNumber(raw) && !windowIsClean(raw, 0, sqlNumberInWindow)) return false;
  }
  return true;
}

/**
 * rawFieldIsClean() of `body[from, to)`, one field of an ASCII form body, read from the bytes a byte scan
 * of the whole body marked (`scanner.marks[2 * first, 2 * count)`, its last scan, of `body`, by scan() or
 * scanForm() with bodyScanTables() and bodyScanSieve() of the same or more categories) instead of searching
 * the field: the same answer (property test), from one pass over the body instead of ~20 searches and one
 * search per escape.
 */
export function rawFieldIsCleanMarked(body: string, from: number, to: number, enabled: AttackCategorySet, scanner: ByteScanner, first: number, count: number): boolean {
  const n = to - from;
  if (n < RAW_FIELD_FROM || n > MAX_VALUE) return false;
  const plan = PLANS[enabled & ALL_ATTACK_CATEGORIES]!; // masked to the table's size
  const records = scanner.marks;
  let single = -1;
  let double = -1;
  for (let k = first; k < count; k++) {
    const step = records[2 * k]!;
    if (step >= to) break;
    for (let bits = records[2 * k + 1]!; bits !== 0; bits &= bits - 1) {
      const at = step + 31 - Math.clz32(bits & -bits);
      if (at < from) continue;
      if (at >= to) break;
      const c = body.charCodeAt(at);
      if (c === 0x25) {
        // The field ends at `&` or at the body's end, neither a hex digit: an escape cut by the field's
        // end is invalid here as in rawFieldIsClean.
        const escape = ESCAPES[(body.charCodeAt(at + 1) << 7) | body.charCodeAt(at + 2)]!;
        if (escape < 0 || escape & plan.refuse) return false;
        if (escape & E_SINGLE) {
          if (single < 0) single = at - from;
        } else if (escape & E_DOUBLE && double < 0) double = at - from;
      } else if (c === 0x2e) {
        // A dot is marked as a pair's second byte (`..`, or a look-alike such as `p.`): the byte before
        // is in the field (the field's own first byte follows its `=`).
        if (plan.refuse & F_DOTDOT && body.charCodeAt(at - 1) === 0x2e) return false;
      } else if (c === 0x72) {
        // `pr` (the scan marks its `r`): `proto` starts before it? (`proto` holds no `&`, so it cannot run past the field.)
        if (enabled & B_PROTOTYPE && body.startsWith('proto', at - 1)) return false;
      } else if (c === 0x27) {
        if (single < 0) single = at - from;
      } else if (c === 0x22) {
        if (double < 0) double = at - from;
      } else if (c >= 0x80 || plan.searched[c] === 1) return false;
      // Else a look-alike pair's byte, a set byte's partner (`[` with `{`) or a byte after one (byteSetTables):
      // not searched by rawFieldIsClean either.
    }
  }
  // Every `%` left in the field starts a valid escape (any other was marked and refused above), and
  // escapes do not overlap: over 3 × LONG_VALUE characters the decoded text is surely longer than LONG_VALUE,
  // and below, the `%` are counted (the sift dropped the harmless escapes' marks).
  if (n <= 3 * LONG_VALUE && n - 2 * scanner.countInScanned(from, to, 0x25) <= LONG_VALUE) return false;
  addWork(n);
  if (enabled & B_SQLI) {
    const number = startsLikeNumberAt(body, from);
    if (single >= 0 && contractionAt(body, from + single)) single = -1;
    if (single >= 0 || double >= 0 || number) {
      const raw = body.slice(from, to);
      if (single >= 0 && !windowIsClean(raw, single, (w, last) => sqlLiteralInWindow(w, last, 0x27))) return false;
      if (double >= 0 && !windowIsClean(raw, double, (w, last) => sqlLiteralInWindow(w, last, 0x22))) return false;
      if (number && !windowIsClean(raw, 0, sqlNumberInWindow)) return false;
    }
  }
  return true;
}

/**
 * Whether the decoded text may open SQL's numeric context (sqlNumberInWindow then reads it): after `(`,
 * signs, `~` and white space (raw, `+` or escaped), a digit, `NULL`, or after a `(`, `SELECT` or `CASE`.
 * Letters and digits are never escaped here (an escaped one is refused), so the words are read raw; what
 * ends a word is not checked: a true only costs a window's read, which gives the exact answer.
 */
function startsLikeNumber(raw: string): boolean {
  return startsLikeNumberAt(raw, 0);
}

/** startsLikeNumber() of the text from `from` (a form field inside its body: the body's `&` after it is no digit). */
function startsLikeNumberAt(raw: string, from: number): boolean {
  let paren = false;
  for (let i = from; ; ) {
    let c = raw.charCodeAt(i);
    let width = 1;
    if (c === 0x25) {
      // An escape: the byte it stands for (NaN past the end or for a digit that is not hex, which stops the loop).
      c = (hexValue(raw.charCodeAt(i + 1)) << 4) | hexValue(raw.charCodeAt(i + 2));
      width = 3;
    }
    // A space as a form sends it (`+`), as it is (a JSON value; long-json-value.ts), or any ASCII white space.
    if (c === 0x28) paren = true;
    else if (!(c === 0x2d || c === 0x2b || c === 0x7e || c === 0x20 || (c >= 0x09 && c <= 0x0d))) {
      if (width === 3) return false;
      if (c >= 0x30 && c <= 0x39) return true;
      const l = c | 0x20;
      return l === 0x6e ? wordAt(raw, i, 'null') : paren && (l === 0x73 ? wordAt(raw, i, 'select') : l === 0x63 && wordAt(raw, i, 'case'));
    }
    i += width;
  }
}

/** Whether `raw` holds the lower-case word `w` at `i`, in any case. */
function wordAt(raw: string, i: number, w: string): boolean {
  for (let k = 0; k < w.length; k++) if ((raw.charCodeAt(i + k) | 0x20) !== w.charCodeAt(k)) return false;
  return true;
}

/**
 * Whether the single quote at raw index `at` (`'` or `%27`) is a contraction's: one to two letters, then
 * a space (`+`, or ` ` as it is), the letters what follows an apostrophe in English (`don't`, `it's`, `I'm`, `I'd`,
 * `we'll`, `they're`, `I've`). SQL then leaves the literal into that one word, which no grammar continues:
 * the answer sqlLiteralInWindow gives (null, having read four characters past the quote), without decoding
 * a window and tokenising it, which was most of the cost of a field of prose (its first quote is nearly
 * always one). Compared by character codes: slicing and upper-casing the letters cost ~100 ns a field.
 */
function contractionAt(raw: string, at: number): boolean {
  const start = raw.charCodeAt(at) === 0x27 ? at + 1 : at + 3;
  // `| 0x20` lower-cases a letter and makes no other character a letter (past the end, NaN | 0x20 is 0x20).
  const first = raw.charCodeAt(start) | 0x20;
  const second = raw.charCodeAt(start + 1);
  // A space as a form sends it (`+`) or as it is (a JSON value; long-json-value.ts): the same decoded text.
  if (second === 0x2b || second === 0x20) return first === 0x74 || first === 0x73 || first === 0x6d || first === 0x64; // t s m d
  const two = (first << 8) | (second | 0x20);
  const after = raw.charCodeAt(start + 2);
  return (after === 0x2b || after === 0x20) && (two === 0x6c6c || two === 0x7265 || two === 0x7665); // ll re ve
}

/** Raw characters decoded for SQL to read: prose leaves a literal within a word or two; a longer read gets the longer window. */
const SQL_WINDOWS = [48, 1536];

/**
 * Whether `read` finds nothing in the decoded text from raw index `from` (an escape boundary), read
 * from growing windows; false when even the largest could not decide (the caller decodes everything).
 */
function windowIsClean(raw: string, from: number, read: (window: string, last: boolean) => Finding | null | undefined): boolean {
  const n = raw.length;
  for (const size of SQL_WINDOWS) {
    let end = from + size;
    if (end >= n) end = n;
    // Never cut an escape in two: the decoded window is then exactly that stretch of the decoded field.
    else if (raw.charCodeAt(end - 1) === 0x25) end -= 1;
    else if (raw.charCodeAt(end - 2) === 0x25) end -= 2;
    const hit = read(percentDecode(from === 0 && end === n ? raw : raw.slice(from, end), true), end === n);
    if (hit !== undefined) return hit === null;
  }
  return false;
}

