/**
 * Attacks in a parsed JSON body: every string value goes through detectAttack, and keys are checked
 * for what only a key can do — a MongoDB operator (`{"$ne": null}`, `{"$where": "…"}`) and prototype
 * pollution (`__proto__`, `constructor` → `prototype`). The walk is iterative and bounded in depth and
 * in nodes visited, so a hostile 100 000-level array costs MAX_NODES steps, not a stack overflow.
 */
import type { ByteScanner } from './byte-scan/byte-scanner.js';
import { detectAttack } from './detect-attack.js';
import { longJsonValueIsClean } from './long-json-value.js';
import { isNosqlOperatorKey } from './nosql/detect-nosql.js';
import { isPollutingKey } from './prototype/detect-prototype-pollution.js';
import { redactedSnippet } from './snippet.js';
import { bareInternalHost, isHostParameter, mayBeBareHost } from './ssrf/host-parameter.js';
import { B_NOSQL, B_PROTOTYPE, B_SSRF, type AttackCategorySet, type AttackLocation, type AttackMatch } from './types.js';
import { addWork } from './work-counter.js';

export interface JsonWalkLimits {
  /** Deeper containers are not entered (default 32). */
  maxDepth: number;
  /** Values and keys visited at most (default 10 000). */
  maxNodes: number;
}

export const DEFAULT_JSON_LIMITS: JsonWalkLimits = { maxDepth: 32, maxNodes: 10_000 };


/**
 * `ascii`: every string in `value` is known to be ASCII (see jsonIsAscii), a hint passed on to detectAttack.
 * `scanner`: the thread's byte scanner, to clear long values in one pass (long-json-value.ts); null: each is examined.
 */
export function detectInJson(value: unknown, enabled: AttackCategorySet, location: AttackLocation = 'json', limits: JsonWalkLimits = DEFAULT_JSON_LIMITS, ascii = false,
  scanner: ByteScanner | null = null): AttackMatch | null {
  const stack: unknown[] = [value];
  const depths: number[] = [0];
  // Key paths (`user.name`, `items.0`) beside the values, so a match can say which field it was in.
  const fields: string[] = [''];
  let nodes = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    const depth = depths.pop()!;
    const field = fields.pop()!;
    if (++nodes > limits.maxNodes) return null;
    addWork(1);
    if (typeof v === 'string') {
      if (scanner !== null && longJsonValueIsClean(v, enabled, scanner)) continue;
      const hit = detectAttack(v, location, enabled, ascii);
      if (hit) return withField(hit, field);
      // A bare internal host under a key named for a host (`{"webhookUrl": "127.1"}`).
      if (enabled & B_SSRF && mayBeBareHost(v, 0, v.length) && isHostParameter(field)) {
        const host = bareInternalHost(v);
        if (host) return { category: 'ssrf', location, field, snippet: redactedSnippet(v, host.at), reason: host.reason };
      }
      continue;
    }
    if (v === null || typeof v !== 'object' || depth >= limits.maxDepth) continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0 && stack.length < limits.maxNodes; i--) {
        stack.push(v[i]);
        depths.push(depth + 1);
        fields.push(field === '' ? String(i) : `${field}.${i}`);
      }
      continue;
    }
    // Pushed last to first, so they come off the stack in document order, as an array's items do.
    const keys = Object.keys(v);
    const pushedFrom = stack.length;
    for (const key of keys) {
      if (++nodes > limits.maxNodes) return null;
      const childField = field === '' ? key : `${field}.${key}`;
      if (enabled & B_NOSQL && isNosqlOperatorKey(key, v)) return { category: 'nosql', location, field: childField, snippet: redactedSnippet(key, 0), reason: `query operator ${key} as a key` };
      if (enabled & B_PROTOTYPE && key === '__proto__') return { category: 'prototype', location, field, snippet: '__proto__', reason: '__proto__ as a key' };
      const child = (v as Record<string, unknown>)[key];
      if (enabled & B_PROTOTYPE && key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) {
        return { category: 'prototype', location, field, snippet: 'constructor.prototype', reason: 'constructor.prototype as keys' };
      }
      // Keys are attacker text too (`{"<svg onload=…>": 1}`).
      if (key.length > 1 && !isPollutingKey(key)) {
        const hit = detectAttack(key, location, enabled, ascii);
        if (hit) return withField(hit, childField);
      }
      if (stack.length < limits.maxNodes) {
        stack.push(child);
        depths.push(depth + 1);
        fields.push(childField);
      }
    }
    reverseFrom(stack, pushedFrom);
    reverseFrom(depths, pushedFrom);
    reverseFrom(fields, pushedFrom);
  }
  return null;
}

/** Reverses `list[from, end)` in place. */
function reverseFrom(list: unknown[], from: number): void {
  for (let i = from, j = list.length - 1; i < j; i++, j--) {
    const t = list[i];
    list[i] = list[j];
    list[j] = t;
  }
}

/**
 * Limits under which a walk of the document parsed from `text` is complete: one node per character at
 * most (every value and key takes at least one), and no depth bound (the walk is iterative; JSON.parse
 * refuses what is too deep for it). A request body is walked whole, so padding (10,000 zeros before the
 * payload, 33 levels of nesting) cannot hide a value the app reads; its work is linear in the body.
 */
export function completeJsonLimits(text: string): JsonWalkLimits {
  return { maxDepth: Number.MAX_SAFE_INTEGER, maxNodes: Math.max(DEFAULT_JSON_LIMITS.maxNodes, text.length + 1) };
}

/**
 * Whether every string JSON.parse(text) can return is ASCII, decided once per body: all characters of
 * the text below 0x80 (a character of two or more UTF-8 bytes makes byteLength exceed length) and no
 * `\u` escape. Spares each long string value its own non-ASCII search, a regex over every character.
 */
export function jsonIsAscii(text: string): boolean {
  return !text.includes('\\u') && Buffer.byteLength(text, 'utf8') === text.length;
}

function withField(hit: AttackMatch, field: string): AttackMatch {
  if (field !== '') hit.field = field;
  return hit;
}
