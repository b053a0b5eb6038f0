/**
 * XSS by structure, in the three places a value can land in a page. In text: a tag opens that runs
 * script — a dangerous element (`<script`, `<iframe`…), any element with an event handler attribute
 * (`<svg/onload=`, `<details open ontoggle=`), or a URL attribute with a script scheme. Inside an
 * attribute: a quote closes it and an event handler or new attribute follows. In a URL attribute: the
 * value itself starts with a script scheme, whatever tabs, newlines or entities split it. A forum post
 * with `<b>`, `<i>`, `<3` or `1<2` opens nothing that runs, so it passes.
 */
import { F_COLON, F_EQ, F_LT, isRegexSpace } from '../features.js';
import type { Finding } from '../types.js';
import { DANGEROUS_TAGS, EVENT_HANDLERS, SCRIPT_SCHEMES, URL_ATTRIBUTES } from '../words/html.js';
import { addWork } from '../work-counter.js';

export const XSS_FEATURES = F_LT | F_EQ | F_COLON;


function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function isLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

export function detectXss(s: string): Finding | null {
  const n = s.length;
  // 1. Tags.
  for (let i = s.indexOf('<'); i >= 0 && i < n - 1; i = s.indexOf('<', i + 1)) {
    let j = i + 1;
    if (s.charCodeAt(j) === 0x2f) j++; // `</script` and `<//img` still open a tag in broken markup
    if (!isLetter(s.charCodeAt(j))) continue;
    const nameStart = j;
    while (j < n && !isSpace(s.charCodeAt(j)) && s.charCodeAt(j) !== 0x2f && s.charCodeAt(j) !== 0x3e) j++;
    const name = s.slice(nameStart, j).toLowerCase();
    addWork(j - i);
    if (DANGEROUS_TAGS.has(name)) return { at: i, reason: `<${name}> element opened` };
    const attr = scanAttributes(s, j);
    if (attr.reason) return { at: i, reason: attr.reason };
    // Continue after this tag: every character is read by one tag at most, so the scan stays linear.
    i = Math.max(i, attr.end - 1);
  }
  // 2. Attribute break-out: a quote, then an event handler attribute (only read when an `on…=` exists at all).
  const handler = hasHandlerShape(s) ? handlerAfterBreak(s) : -1;
  if (handler >= 0) return { at: handler, reason: 'attribute closed, event handler added' };
  // 3. The whole value as a URL.
  if (startsWithScriptScheme(s, 0)) return { at: 0, reason: 'script URL scheme' };
  return null;
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

/** Reads attributes from `i` to the end of the tag (or the next `<`): why one of them runs script, and where the tag ended. */
function scanAttributes(s: string, i: number): { reason: string | null; end: number } {
  const n = s.length;
  while (i < n) {
    while (i < n && (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2f || s.charCodeAt(i) === 0x22 || s.charCodeAt(i) === 0x27)) i++;
    if (i >= n || s.charCodeAt(i) === 0x3e || s.charCodeAt(i) === 0x3c) return { reason: null, end: i };
    const start = i;
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
      if (q === 0x22 || q === 0x27 || q === 0x60) {
        valueStart = ++i;
        const end = s.indexOf(String.fromCharCode(q), i);
        i = end < 0 ? n : end + 1;
      } else {
        valueStart = i;
        while (i < n && !isSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x3e) i++;
      }
      addWork(i - valueStart);
    }
    if (name.length > 2 && name.startsWith('on') && hasValue && isHandlerName(name)) return { reason: `${name} handler in a tag`, end: i };
    if (hasValue && URL_ATTRIBUTES.has(name) && startsWithScriptScheme(s, valueStart)) return { reason: `script URL in ${name}`, end: i };
    if (hasValue && name === 'style' && /expression\s*\(|javascript:|behavior\s*:|-moz-binding/i.test(s.slice(valueStart, Math.min(i, valueStart + 512)))) return { reason: 'script in a style attribute', end: i };
    if (i === start && !hasValue) i++; // a lone `=` or other stray character: step over it
  }
  return { reason: null, end: i };
}

/** Browsers run only known handlers, but also on* names we have not listed yet if they are all letters. */
function isHandlerName(name: string): boolean {
  if (EVENT_HANDLERS.has(name)) return true;
  for (let k = 2; k < name.length; k++) if (!isLetter(name.charCodeAt(k))) return false;
  return name.length >= 5;
}

/**
 * Index of an event handler among the attributes that follow a quote which closed the attribute the
 * value sat in (`" autofocus onfocus="…`), or -1. Reads up to a few attributes after each quote.
 */
function handlerAfterBreak(s: string): number {
  const n = s.length;
  const next = [-2, -2, -2];
  for (let i = nextQuote(s, 0, next); i >= 0; i = nextQuote(s, i + 1, next)) {
    let j = i + 1;
    for (let attrs = 0; attrs < 4 && j < n; attrs++) {
      while (j < n && (isSpace(s.charCodeAt(j)) || s.charCodeAt(j) === 0x2f)) j++;
      const start = j;
      while (j < n && (isLetter(s.charCodeAt(j)) || s.charCodeAt(j) === 0x2d)) j++;
      if (j === start) break;
      addWork(j - start);
      let k = j;
      while (k < n && isSpace(s.charCodeAt(k))) k++;
      const hasValue = s.charCodeAt(k) === 0x3d;
      // Every handler name is `on` and three letters or more: other words are not sliced and lower-cased (after every quote of prose, a call each).
      if (hasValue && j - start >= 5 && (s.charCodeAt(start) | 0x20) === 0x6f && (s.charCodeAt(start + 1) | 0x20) === 0x6e &&
        EVENT_HANDLERS.has(s.slice(start, j).toLowerCase())) return start;
      if (!hasValue) {
        // A bare attribute (`autofocus`) must be followed by a space to be one; a word in prose
        // ("'quoted' words like this") goes on with letters and stops the reading here.
        if (k === j && k < n) break;
        j = k;
        continue;
      }
      k++;
      while (k < n && isSpace(s.charCodeAt(k))) k++;
      const q = s.charCodeAt(k);
      if (q === 0x22 || q === 0x27) {
        const close = s.indexOf(String.fromCharCode(q), k + 1);
        j = close < 0 ? n : close + 1;
      } else {
        while (k < n && !isSpace(s.charCodeAt(k)) && s.charCodeAt(k) !== 0x3e) k++;
        j = k;
      }
    }
  }
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
    return folded.length > scheme.length || scheme.startsWith('data:');
  }
  return false;
}
