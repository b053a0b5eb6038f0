/**
 * XSS by structure, in the three places a value can land in a page. In text: a tag opens that runs
 * script — a dangerous element (`<script`, `<iframe`…), any element with an event handler attribute
 * (`<svg/onload=`, `<details open ontoggle=`), or a URL attribute with a script scheme. Inside an
 * attribute: a quote closes it and an event handler or new attribute follows. In a URL attribute: the
 * value itself starts with a script scheme, whatever tabs, newlines or entities split it. A forum post
 * with `<b>`, `<i>`, `<3` or `1<2` opens nothing that runs, so it passes.
 */
import { F_COLON, F_EQ, F_LT, F_SEMI, isRegexSpace } from '../features.js';
import type { Finding } from '../types.js';
import { DANGEROUS_TAGS, EVENT_HANDLERS, JS_PREFIX_KEYWORDS, SCRIPT_SCHEMES, URL_ATTRIBUTES } from '../words/html.js';
import { addWork } from '../work-counter.js';

export const XSS_FEATURES = F_LT | F_EQ | F_COLON | F_SEMI;


function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function isLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

export function detectXss(s: string): Finding | null {
  // 1. Tags. A tag inside a quoted attribute value is text in that tag, but real markup when what
  // precedes it was not a tag (`<style>`, `<textarea>`, `<title>`, a comment): a second pass reads those.
  const tags = scanTags(s, false);
  if (tags !== null && typeof tags !== 'boolean') return tags;
  if (tags === true) {
    const inner = scanTags(s, true);
    if (inner !== null && typeof inner !== 'boolean') return inner;
  }
  // 2. Attribute break-out: a quote, then an event handler attribute.
  const handler = handlerAfterBreak(s);
  if (handler >= 0) return { at: handler, reason: 'attribute closed, event handler added' };
  // 3. The whole value as a URL.
  if (startsWithScriptScheme(s, 0)) return { at: 0, reason: 'script URL scheme' };
  // 4. A JavaScript string closed and a statement added.
  const statement = statementAfterString(s);
  if (statement >= 0) return { at: statement, reason: 'script string closed, statement added' };
  return null;
}

/**
 * A value in a script's string literal (`var q = '${p}';`) that closes it: the value's first quote, then
 * `;`, then a call, then nothing the page's own closing quote would break — a comment to the end, or a
 * quote that reopens the string the page closes (`';alert(1)//`, `';alert(1);'`). Only the first quote
 * of each kind can close the literal; prose and code snippets have text or an opening quote there.
 */
function statementAfterString(s: string): number {
  if (s.indexOf(';') < 0) return -1;
  const single = firstQuote(s, "'");
  if (single >= 0 && callStatementAt(s, single + 1, 0x27)) return single;
  const double = firstQuote(s, '"');
  if (double >= 0 && callStatementAt(s, double + 1, 0x22)) return double;
  return -1;
}

/** The first `quote` not escaped by a backslash, or -1. */
function firstQuote(s: string, quote: string): number {
  let i = s.indexOf(quote);
  while (i > 0 && s.charCodeAt(i - 1) === 0x5c) i = s.indexOf(quote, i + 1);
  return i;
}

function isIdentifierChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24;
}

/** Whether `;` + a call (`alert(1)`, `top.fetch(x)`) + a comment or a closing `quote` at the end start at `i`. */
function callStatementAt(s: string, i: number, quote: number): boolean {
  const n = Math.min(s.length, i + 256);
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) !== 0x3b) return false;
  i++;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  const start = i;
  if (!isLetter(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x5f && s.charCodeAt(i) !== 0x24) return false;
  while (i < n && (isIdentifierChar(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2e)) i++;
  addWork(i - start);
  if (s.charCodeAt(i) !== 0x28) return false;
  for (let depth = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === quote) {
      // A string literal of the call's own (`fetch('//e.example/'+x)`): its closing quote must be near.
      i = s.indexOf(String.fromCharCode(quote), i + 1);
      if (i < 0 || i >= n) return false;
    } else if (c === 0x28) depth++;
    else if (c === 0x29 && --depth === 0) break;
  }
  if (i >= n) return false;
  i++;
  while (i < n && (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 0x3b)) i++;
  if (s.startsWith('//', i) || s.startsWith('<!--', i)) return true;
  if (s.charCodeAt(i) !== quote) return false;
  for (i++; i < s.length; i++) if (!isSpace(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether `on` + at least three letters + optional whitespace + `=` occurs anywhere (what
 * /on[a-z]{3,}\s*=/i finds), read backwards from each `=`: prose holds few `=`, and a case-insensitive
 * regex had to try every character of a long value (the largest part of XSS's cost on 4 KiB of prose).
 */
export function hasHandlerShape(s: string): boolean {
  for (let eq = s.indexOf('='); eq >= 0; eq = s.indexOf('=', eq + 1)) {
    let end = eq - 1;
    while (end >= 0 && isRegexSpace(s.charCodeAt(end))) end--;
    let k = end;
    while (k >= 0 && isLetter(s.charCodeAt(k))) k--;
    // The letters are s(k, end]; `on` must start at least four letters before their end.
    for (let i = k + 1; i <= end - 4; i++) if ((s.charCodeAt(i) | 0x20) === 0x6f && (s.charCodeAt(i + 1) | 0x20) === 0x6e) return true;
  }
  return false;
}

/**
 * Where a name that could be an event handler (`on` and three letters or more, alone in its word) starts
 * when it stands before the `=` at `eq`, else -1: the only places handlerAfterBreak() can find one.
 * Words that merely hold `on` (`consent=`, `condition=`) are common in values and would make it read the
 * whole value for nothing.
 */
function handlerNameBefore(s: string, eq: number): number {
  let end = eq - 1;
  while (end >= 0 && isSpace(s.charCodeAt(end))) end--;
  let k = end;
  while (k >= 0 && isLetter(s.charCodeAt(k))) k--;
  if (end - k < 5 || (s.charCodeAt(k + 1) | 0x20) !== 0x6f || (s.charCodeAt(k + 2) | 0x20) !== 0x6e) return -1;
  const c = s.charCodeAt(k);
  return isSpace(c) || c === 0x2f || c === 0x22 || c === 0x27 || c === 0x60 ? k + 1 : -1;
}

/** The first handler name (handlerNameBefore) at or after `from`, looking at the `=` signs from `eq` on; -1 if none. */
function handlerNameFrom(s: string, from: number, eq: number): number {
  for (; eq >= 0; eq = s.indexOf('=', eq + 1)) {
    const name = handlerNameBefore(s, eq);
    if (name >= from) return name;
  }
  return -1;
}

/**
 * Reads every tag: the first that runs script, `true` when a `<` and a letter sat inside a quoted value
 * (worth the second pass, `inner`, which ends such a value there and reads the tag), else null. Each
 * character is read by one tag at most, so a pass is linear.
 */
function scanTags(s: string, inner: boolean): Finding | boolean | null {
  const n = s.length;
  let hidden = false;
  for (let i = s.indexOf('<'); i >= 0 && i < n - 1; i = s.indexOf('<', i + 1)) {
    let j = i + 1;
    if (s.charCodeAt(j) === 0x2f) j++; // `</script` and `<//img` still open a tag in broken markup
    if (!isLetter(s.charCodeAt(j))) continue;
    const nameStart = j;
    while (j < n && !isSpace(s.charCodeAt(j)) && s.charCodeAt(j) !== 0x2f && s.charCodeAt(j) !== 0x3e) j++;
    const name = s.slice(nameStart, j).toLowerCase();
    addWork(j - i);
    if (DANGEROUS_TAGS.has(name) && !genericType(s, i, j, name)) return { at: i, reason: `<${name}> element opened` };
    const attr = scanAttributes(s, j, inner, elementName(name));
    if (attr.reason) return { at: i, reason: attr.reason };
    if (attr.hidden) hidden = true;
    // Continue after this tag.
    i = Math.max(i, attr.end - 1);
  }
  return hidden || null;
}

/**
 * Whether the element `name` opened at `i` (its name ending at `j`) is a type argument in code or prose:
 * `List<Object>`, `Event<Frame>` — glued to an identifier, no attributes. Such an element has no source
 * or code to run, and the tags after it are still read; only `<script>` runs what follows it.
 */
function genericType(s: string, i: number, j: number, name: string): boolean {
  return i > 0 && isIdentifierChar(s.charCodeAt(i - 1)) && s.charCodeAt(j) === 0x3e && s.charCodeAt(i + 1) !== 0x2f && name !== 'script';
}

/** Whether a tag name is one an element can have (`x-card`, `svg:a`), not code read as one (`n;`, `max)` of `i<n;`). */
function elementName(name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (!isIdentifierChar(c) && c !== 0x2d && c !== 0x3a && c !== 0x2e) return false;
  }
  return true;
}

/** Whether `<` at `i` opens a tag or an end tag (`<img`, `</style`). */
function opensTag(s: string, i: number): boolean {
  const c = s.charCodeAt(i + 1);
  return isLetter(c) || (c === 0x2f && isLetter(s.charCodeAt(i + 2)));
}

/**
 * Reads attributes from `i` to the end of the tag (or the next tag): why one of them runs script, where
 * the tag ended, and whether a quoted value held a tag. A backtick is no quote to a browser, and a `<`
 * that opens no tag is an attribute name (`<img src=x < onerror=…>`). `inner`: a quoted value ends at a tag.
 */
function scanAttributes(s: string, i: number, inner: boolean, element: boolean): { reason: string | null; end: number; hidden: boolean } {
  const n = s.length;
  let hidden = false;
  while (i < n) {
    while (i < n && (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2f || s.charCodeAt(i) === 0x22 || s.charCodeAt(i) === 0x27)) i++;
    if (i >= n || s.charCodeAt(i) === 0x3e || (s.charCodeAt(i) === 0x3c && opensTag(s, i))) return { reason: null, end: i, hidden };
    const start = i;
    i++; // a name's first character may be `=` or `<`
    while (i < n && !isSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x3d && s.charCodeAt(i) !== 0x3e && s.charCodeAt(i) !== 0x2f) i++;
    const name = s.slice(start, i).toLowerCase();
    addWork(i - start + 1);
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    const hasValue = s.charCodeAt(i) === 0x3d;
    let valueStart = i;
    if (hasValue) {
      i++;
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      const q = s.charCodeAt(i);
      if (q === 0x22 || q === 0x27) {
        valueStart = ++i;
        const end = s.indexOf(String.fromCharCode(q), i);
        const tag = tagIn(s, i, end < 0 ? n : end);
        if (tag >= 0) {
          hidden = true;
          if (inner) return { reason: null, end: tag, hidden };
        }
        i = end < 0 ? n : end + 1;
      } else {
        valueStart = i;
        while (i < n && !isSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x3e) i++;
      }
      addWork(i - valueStart);
    }
    // An on* name browsers do not list counts in a tag with an element's name only: `i<n; … onlineCount = 0` is code.
    if (name.length > 2 && name.startsWith('on') && hasValue && (element ? isHandlerName(name) : EVENT_HANDLERS.has(name))) return { reason: `${name} handler in a tag`, end: i, hidden };
    if (hasValue && URL_ATTRIBUTES.has(name) && startsWithScriptScheme(s, valueStart)) return { reason: `script URL in ${name}`, end: i, hidden };
    if (hasValue && name === 'style' && /expression\s*\(|javascript:|(?<![\w-])behavior\s*:|-moz-binding/i.test(s.slice(valueStart, Math.min(i, valueStart + 512)))) return { reason: 'script in a style attribute', end: i, hidden };
  }
  return { reason: null, end: i, hidden };
}

/** Browsers run only known handlers, but also on* names we have not listed yet if they are all letters. */
function isHandlerName(name: string): boolean {
  if (EVENT_HANDLERS.has(name)) return true;
  for (let k = 2; k < name.length; k++) if (!isLetter(name.charCodeAt(k))) return false;
  return name.length >= 5;
}

/**
 * Index of an event handler that the value adds to the tag it lands in, or -1. Two readings:
 *  - after a quote, which closed the attribute the value sat in (`" autofocus onfocus="…`); each reading
 *    ends at the next quote, where the next one starts, so every character is read once per reading kind;
 *  - in an unquoted attribute (`<input value=x autofocus onfocus=alert(1)>`): the value ends at its first
 *    whitespace, attributes follow up to a `>`.
 * Attributes are read as browsers read them: names of any characters but whitespace, `/`, `>` and `=`,
 * `/` between attributes, any number of them.
 */
function handlerAfterBreak(s: string): number {
  // A reading finds a handler only at a name handlerNameBefore() accepts, so only readings that hold one
  // are made: in a long value with many quotes, reading every stretch between two was a tenth of a dense
  // form body's detection (bench "dense look-alikes").
  const firstEq = s.indexOf('=');
  let name = handlerNameFrom(s, 0, firstEq);
  if (name < 0) return -1;
  const n = s.length;
  let w = 0;
  while (w < n && !isSpace(s.charCodeAt(w)) && s.charCodeAt(w) !== 0x3e) w++;
  if (w < n && isSpace(s.charCodeAt(w)) && (name >= w || handlerNameFrom(s, w, s.indexOf('=', w)) >= 0)) {
    const h = handlerIn(s, w, n, false);
    if (h >= 0) return h;
  }
  // The names are met in order, each `=` looked at once: `eq` is the one after the current name's.
  let eq = s.indexOf('=', name);
  const next = [-2, -2, -2];
  for (let i = nextQuote(s, 0, next); i >= 0; ) {
    const bound = nextQuote(s, i + 1, next);
    const end = bound < 0 ? n : bound;
    if (name <= i) {
      name = handlerNameFrom(s, i + 1, eq);
      if (name < 0) return -1;
      eq = s.indexOf('=', name);
    }
    if (name < end) {
      const h = handlerIn(s, i + 1, end, true);
      if (h >= 0) return h;
    }
    i = bound;
  }
  return -1;
}

/**
 * Reads attributes from `j` to `bound` (or a `>`): the start of an event handler with code that can run.
 * `afterQuote`: a quote closed the value. The first few plain attributes after a quote are how a
 * break-out reads, and a handler there counts; a handler further on, or without a quote before it, is also
 * how a developer writes about one ("set onclick=save() on the button"), so there it must end the
 * attribute list rather than go on as a sentence.
 */
function handlerIn(s: string, j: number, bound: number, afterQuote: boolean): number {
  let plain = afterQuote;
  for (let attrs = 0; j < bound; attrs++) {
    while (j < bound && (isSpace(s.charCodeAt(j)) || s.charCodeAt(j) === 0x2f)) j++;
    if (j >= bound || s.charCodeAt(j) === 0x3e) return -1; // the tag ended: what follows is text, read by the tag scan
    const start = j;
    while (j < bound && !isSpace(s.charCodeAt(j)) && s.charCodeAt(j) !== 0x2f && s.charCodeAt(j) !== 0x3e && (s.charCodeAt(j) !== 0x3d || j === start)) j++;
    addWork(j - start);
    let k = j;
    while (k < bound && isSpace(s.charCodeAt(k))) k++;
    const hasValue = k < bound && s.charCodeAt(k) === 0x3d;
    if (plain && (attrs >= 4 || !plainName(s, start, j) || (!hasValue && k === j && k < bound && s.charCodeAt(k) !== 0x2f))) plain = false;
    if (!hasValue) {
      j = k;
      continue;
    }
    k++;
    while (k < bound && isSpace(s.charCodeAt(k))) k++;
    // Every handler name is `on` and three letters or more: other words are not sliced and lower-cased.
    const handler = j - start >= 5 && (s.charCodeAt(start) | 0x20) === 0x6f && (s.charCodeAt(start + 1) | 0x20) === 0x6e && isHandlerName(s.slice(start, j).toLowerCase());
    if (k >= bound) {
      // The value is quoted (it opens at the quote that bounds this reading) or missing.
      if (handler && k < s.length && (plain || !proseFollows(s, s.indexOf(s[k]!, k + 1) + 1))) return start;
      return -1;
    }
    const q = s.charCodeAt(k);
    if (q === 0x22 || q === 0x27 || q === 0x60) return -1;
    const valueStart = k;
    while (k < bound && !isSpace(s.charCodeAt(k)) && s.charCodeAt(k) !== 0x3e) k++;
    if (handler && k > valueStart && !deadCode(s, valueStart) && !literal(s, valueStart, k) && (plain || !proseFollows(s, k))) return start;
    j = k;
  }
  return -1;
}

/** Whether s[start, end) is a name the old, letters-only reading accepted: its window is kept as it was. */
function plainName(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isLetter(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x2d) return false;
  return end > start;
}

/**
 * Whether an unquoted handler value starting at `i` cannot compile, so a browser runs nothing: it holds
 * one quote, which no other closes, or (without quotes) a bracket it never closes — and no comment or
 * regex that would hide either. This is how prose quotes a handler: `Why doesn't "onload=init()" fire?`
 * reads as `onload=init()"` in a double-quoted attribute, and JSX's `onClick={() => save()}` as `{()`.
 */
function deadCode(s: string, i: number): boolean {
  const n = Math.min(s.length, i + 64);
  let quotes = 0;
  let open = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isSpace(c) || c === 0x3e) break;
    if (c === 0x22 || c === 0x27 || c === 0x60) quotes++;
    else if (c === 0x28 || c === 0x5b || c === 0x7b) open++;
    else if (c === 0x29 || c === 0x5d || c === 0x7d) open--;
    // `/` starts a comment or a regex in a script; `<!--` a comment; `&` and `\` may stand for other characters.
    else if (c === 0x26 || c === 0x5c || c === 0x2f || (c === 0x3c && s.charCodeAt(i + 1) === 0x21)) return false;
  }
  if (i === n && n < s.length) return false; // too long to judge
  return quotes === 1 || (quotes === 0 && open > 0);
}

/**
 * Whether the unquoted handler code s[i, end) is a lone number or `true`/`false`/`null` with an optional
 * `;`: it runs nothing, and it is how code assigns a flag or a count (`onRetry = true;`, `onlineCount = 0`).
 */
function literal(s: string, i: number, end: number): boolean {
  if (s.charCodeAt(end - 1) === 0x3b) end--;
  if (end <= i || end - i > 16) return false;
  const word = s.slice(i, end);
  if (word === 'true' || word === 'false' || word === 'null') return true;
  for (let k = i; k < end; k++) if (s.charCodeAt(k) < 0x30 || s.charCodeAt(k) > 0x39) return false;
  return true;
}

/** Whether two words of a sentence follow `i` (`on the button`, `called twice?`) rather than more attributes or the end. */
function proseFollows(s: string, i: number): boolean {
  if (i <= 0) return false;
  const n = s.length;
  for (let words = 0; words < 2; words++) {
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    const start = i;
    while (i < n && i - start < 32 && isLetter(s.charCodeAt(i))) i++;
    if (i === start) return false;
    const c = s.charCodeAt(i);
    if (words === 0 ? !isSpace(c) : !(i === n || isSpace(c) || c === 0x2e || c === 0x2c || c === 0x3f || c === 0x21 || c === 0x3b || c === 0x3a)) return false;
  }
  return true;
}

/** Where a tag opens in s[i, end), or -1. */
function tagIn(s: string, i: number, end: number): number {
  for (; i < end; i++) if (s.charCodeAt(i) === 0x3c && opensTag(s, i)) return i;
  return -1;
}

const QUOTES = ['"', "'", '`'];

/**
 * Index of the next quote of any kind from `i`, or -1: native searches rather than a character loop,
 * each quote kind's next position remembered in `next` so a kind that is absent is searched once.
 */
function nextQuote(s: string, i: number, next: number[]): number {
  let best = -1;
  for (let q = 0; q < QUOTES.length; q++) {
    let k = next[q] ?? -2;
    if (k !== -1 && k < i) next[q] = k = s.indexOf(QUOTES[q]!, i);
    if (k >= 0 && (best < 0 || k < best)) best = k;
  }
  return best;
}

/**
 * Whether the text at `i` is a script URL as a browser reads it: leading spaces and control characters
 * skipped, tabs and newlines inside the scheme ignored, any case.
 */
function startsWithScriptScheme(s: string, i: number): boolean {
  const n = s.length;
  while (i < n && s.charCodeAt(i) <= 0x20) i++;
  const c = s.charCodeAt(i) | 0x20;
  if (c !== 0x6a && c !== 0x76 && c !== 0x64 && c !== 0x6c && c !== 0x6d) return false; // j v d l m
  let folded = '';
  for (let j = i; j < n && folded.length < 40; j++) {
    const d = s.charCodeAt(j);
    if (d === 0x09 || d === 0x0a || d === 0x0d) continue;
    folded += String.fromCharCode(d).toLowerCase();
  }
  addWork(folded.length);
  for (const scheme of SCRIPT_SCHEMES) {
    if (!folded.startsWith(scheme)) continue;
    // A scheme alone ("data:" in a sentence) is only an attack with something to run after it.
    if (folded.length <= scheme.length && !scheme.startsWith('data:')) return false;
    return !JS_SCHEMES.has(scheme) || !twoWords(s, afterScheme(s, i, scheme.length));
  }
  return false;
}

const JS_SCHEMES: ReadonlySet<string> = new Set(['javascript:', 'livescript:', 'mocha:']);

/** Where the text after a scheme of `length` characters starting at `i` begins, tabs and newlines in it skipped as above. */
function afterScheme(s: string, i: number, length: number): number {
  for (let seen = 0; i < s.length && seen < length; i++) {
    const d = s.charCodeAt(i);
    if (d !== 0x09 && d !== 0x0a && d !== 0x0d) seen++;
  }
  return i;
}

/**
 * Whether the script at `i` starts with two words side by side (`JavaScript: The Good Parts`, `mocha:
 * timeout of 2000ms`): a syntax error, so the whole script runs nothing — unless the first is a keyword
 * that takes an operand (`void alert(1)`, `new Image`) or the second an operator (`x in y`). Only
 * spaces part them: a newline (`%0a`) would end a statement.
 */
function twoWords(s: string, i: number): boolean {
  const n = Math.min(s.length, i + 64);
  while (i < n && s.charCodeAt(i) === 0x20) i++;
  const first = identifierAt(s, i, n);
  if (first === i) return false;
  let k = first;
  while (k < n && s.charCodeAt(k) === 0x20) k++;
  if (k === first) return false;
  const second = identifierAt(s, k, n);
  if (second === k) return false;
  addWork(second - i);
  const operator = s.slice(k, second);
  return !JS_PREFIX_KEYWORDS.has(s.slice(i, first)) && operator !== 'in' && operator !== 'instanceof';
}

/** The end of an identifier (letters, digits, `_`, `$`, not starting with a digit) at `i`, or `i`. */
function identifierAt(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  if (!isLetter(c) && c !== 0x5f && c !== 0x24) return i;
  while (i < n && isIdentifierChar(s.charCodeAt(i))) i++;
  return i;
}
