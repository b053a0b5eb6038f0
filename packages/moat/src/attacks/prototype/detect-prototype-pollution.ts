/**
 * Prototype pollution: a key path that reaches Object.prototype when a merge, a query-string parser
 * (`a[__proto__][x]=1`) or a dotted setter (`__proto__.isAdmin`) walks it: `__proto__`, or
 * `constructor` followed by `prototype`.
 */
import { F_BRACE, F_BRACKET, F_COLON, F_DOT, F_SLASH, F_UNDERSCORE2 } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';

/** `/` and `:`: `/constructor/prototype/x` and `constructor:prototype:x` hold no other. */
export const PROTOTYPE_FEATURES = F_UNDERSCORE2 | F_BRACKET | F_DOT | F_BRACE | F_SLASH | F_COLON;

/**
 * `/` and `:` separate keys too: a JSON Pointer or JSON Patch path (`/__proto__/x`,
 * `/constructor/prototype/x`) and an nconf-style `a:__proto__:x`. There `constructor` and `prototype`
 * count between separators only, with a key after (`constructor/prototype pattern` in prose sets nothing).
 */
const KEY_PATH = /(?:^|[[.'"\s{,?&#=;/:|])__proto__(?:$|[\]."'\s:[=/|])|constructor\s*(?:\]?\s*\[\s*['"]?|\.|['"]\s*\]\s*\[\s*['"]?|['"]?\s*:\s*\{\s*['"]?)prototype\b|(?:^|\/)constructor\/prototype\/[^/]|(?:^|:)constructor:prototype:[^:]/;
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
  const m = KEY_PATH.exec(s);
  if (m) return { at: m.index, reason: m[0].includes('__proto__') ? '__proto__ in a key path' : 'constructor.prototype in a key path' };
  return s.includes('\\') ? unescapedKeyPath(s) : null;
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
  const m = KEY_PATH.exec(plain);
  return m ? { at: Math.min(m.index, s.length - 1), reason: 'backslash-escaped key in a key path' } : null;
}
