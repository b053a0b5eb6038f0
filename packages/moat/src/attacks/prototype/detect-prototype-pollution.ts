/**
 * Prototype pollution: a key path that reaches Object.prototype when a merge, a query-string parser
 * (`a[__proto__][x]=1`) or a dotted setter (`__proto__.isAdmin`) walks it: `__proto__`, or
 * `constructor` followed by `prototype`.
 */
import { F_BRACE, F_BRACKET, F_DOT, F_UNDERSCORE2 } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';

export const PROTOTYPE_FEATURES = F_UNDERSCORE2 | F_BRACKET | F_DOT | F_BRACE;

const KEY_PATH = /(?:^|[[.'"\s{,?&#=;])__proto__(?:$|[\]."'\s:[=])|constructor\s*(?:\]?\s*\[\s*['"]?|\.|['"]\s*\]\s*\[\s*['"]?|['"]?\s*:\s*\{\s*['"]?)prototype\b/;

/** Keys that pollute when used as one step of a path. */
export function isPollutingKey(key: string): boolean {
  return key === '__proto__' || key === 'prototype' || key === 'constructor';
}

export function detectPrototypePollution(s: string): Finding | null {
  addWork(s.length);
  // Property names are case-sensitive: `__PROTO__` and `PROTOTYPE` pollute nothing.
  // `proto` is in both words: one native search decides almost every value.
  if (!s.includes('proto') || (!s.includes('__proto__') && !s.includes('prototype'))) return null;
  const m = KEY_PATH.exec(s);
  return m ? { at: m.index, reason: m[0].includes('__proto__') ? '__proto__ in a key path' : 'constructor.prototype in a key path' } : null;
}
