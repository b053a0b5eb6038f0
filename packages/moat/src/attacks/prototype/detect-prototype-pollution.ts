/**
 * Prototype pollution: a key path that reaches Object.prototype when a merge, a query-string parser
 * (`a[__proto__][x]=1`) or a dotted setter (`__proto__.isAdmin`) walks it: `__proto__`, or
 * `constructor` followed by `prototype`.
 */
import { F_BRACE, F_BRACKET, F_COLON, F_DOT, F_SLASH, F_UNDERSCORE2, isRegexSpace } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';

/** `/` and `:`: `/constructor/prototype/x` and `constructor:prototype:x` hold no other. */
export const PROTOTYPE_FEATURES = F_UNDERSCORE2 | F_BRACKET | F_DOT | F_BRACE | F_SLASH | F_COLON;

/**
 * `/` and `:` separate keys too: a JSON Pointer or JSON Patch path (`/__proto__/x`,
 * `/constructor/prototype/x`) and an nconf-style `a:__proto__:x`. There `constructor` and `prototype`
 * count between separators only, with a key after (`constructor/prototype pattern` in prose sets nothing).
 * `__proto__` is found by protoKeyAt.
 */
const CONSTRUCTOR_PATH = /constructor\s*(?:\]?\s*\[\s*['"]?|\.|['"]\s*\]\s*\[\s*['"]?|['"]?\s*:\s*\{\s*['"]?)prototype\b|(?:^|\/)constructor\/prototype\/[^/]|(?:^|:)constructor:prototype:[^:]/;
/** By ASCII code: 1 where the character may stand before `__proto__` in a key path, 2 after it, 3 both. */
const PROTO_SEPARATORS = new Uint8Array(128);
for (const ch of '{,?&#;') PROTO_SEPARATORS[ch.charCodeAt(0)] = 1;
for (const ch of ']') PROTO_SEPARATORS[ch.charCodeAt(0)] = 2;
for (const ch of '[.\'":=/|') PROTO_SEPARATORS[ch.charCodeAt(0)] = 3;
/** A bracketed key in quotes that pollutes once a lodash-style path parser drops its backslashes. */
const QUOTED_KEY = /\[\s*(['"])(?:__proto__|constructor|prototype)\1/;

/** Keys that pollute when used as one step of a path. */
export function isPollutingKey(key: string): boolean {
  return key === '__proto__' || key === 'prototype' || key === 'constructor';
}

export function detectPrototypePollution(s: string): Finding | null {
  addWork(s.length);
  // Property names are case-sensitive: `__PROTO__` and `PROTOTYPE` pollute nothing.
  // `proto` is in both words: one native search decides almost every value.
  if (!s.includes('proto') || (!s.includes('__proto__') && !s.includes('prototype'))) return s.includes('\\') ? unescapedKeyPath(s) : null;
  const at = keyPathAt(s);
  if (at >= 0) return { at, reason: s.startsWith('__proto__', at) ? '__proto__ in a key path' : 'constructor.prototype in a key path' };
  return s.includes('\\') ? unescapedKeyPath(s) : null;
}

/** Where the first `__proto__` or `constructor`→`prototype` key path starts, or -1. */
function keyPathAt(s: string): number {
  const proto = protoKeyAt(s);
  // Every such path holds `prototype`: a native search spares the regex most values with `__proto__` only.
  const m = s.includes('prototype') ? CONSTRUCTOR_PATH.exec(s) : null;
  if (m === null) return proto;
  return proto >= 0 && proto < m.index ? proto : m.index;
}

/**
 * Where the first `__proto__` in a key path starts, or -1: a separator (or the value's start or end) on
 * each side, blanks looked through (`{ __proto__ : {…} }`, `see __proto__.isAdmin`). With a word beyond
 * the blanks on both sides it is prose (`never use __proto__ directly`): no parser splits a key path at a
 * blank.
 */
function protoKeyAt(s: string): number {
  for (let i = s.indexOf('__proto__'); i >= 0; i = s.indexOf('__proto__', i + 1)) {
    let b = i - 1;
    while (b >= 0 && isRegexSpace(s.charCodeAt(b))) b--;
    let a = i + 9;
    while (a < s.length && isRegexSpace(s.charCodeAt(a))) a++;
    const before = b < 0 ? 1 : separator(s.charCodeAt(b)) & 1;
    const after = a >= s.length ? 2 : separator(s.charCodeAt(a)) & 2;
    // Right beside it: a separator or a blank; beyond the blanks, a separator on one side at least.
    const besideBefore = b === i - 1 ? before !== 0 : true;
    const besideAfter = a === i + 9 ? after !== 0 : true;
    if (besideBefore && besideAfter && (before !== 0 || after !== 0)) return i;
  }
  return -1;
}

function separator(c: number): number {
  return c < 0x80 ? PROTO_SEPARATORS[c]! : 0;
}

/**
 * `a["__pro\to__"].x`: a path parser such as lodash's drops a backslash before any character inside a
 * quoted key (a doubled one keeps one). Only quoted keys count then, so Markdown's `\_\_proto\_\_` in
 * prose stays prose.
 */
function unescapedKeyPath(s: string): Finding | null {
  // Without every backslash (a native pass) first: a value of backslashes without `proto` ends there.
  if (!s.replaceAll('\\', '').includes('proto')) return null;
  const plain = s.replace(/\\(\\)?/g, '$1');
  if (!plain.includes('proto') || !QUOTED_KEY.test(plain)) return null;
  const at = keyPathAt(plain);
  return at >= 0 ? { at: Math.min(at, s.length - 1), reason: 'backslash-escaped key in a key path' } : null;
}
