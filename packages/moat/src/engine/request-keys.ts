/**
 * The request keys a rules file uses beside the IP: the keys its keyed bans block (rule kind `key`) and
 * the keys it asks clients to report (the hub's threshold rules count by them). Built once per file;
 * the engine hashes each key of a request at most once per evaluation, and only when a file has any
 * (null otherwise: a file without them costs one null check per request).
 */
import { formatRateLimitKey } from '../rules/rate-limit-key.js';
import { parseKeyHash } from '../rules/key-ban.js';
import type { RateLimitKey, Rule } from '../rules/types.js';

export interface RequestKeySpec {
  key: RateLimitKey;
  /** `header:x-api-key`: what a decision and a report name (never the value). */
  text: string;
  /** Indices of the key-ban rules by the hash they block; null when no ban uses this key. */
  bans: ReadonlyMap<string, number[]> | null;
  /** Whether the hash goes into each report (the hub counts by it). */
  reported: boolean;
}

export interface RequestKeys {
  specs: readonly RequestKeySpec[];
  hasBans: boolean;
  hasReported: boolean;
  /** Some key is the app's user id: the firewall then asks its `user` option per request. */
  byUser: boolean;
}

/** The keys of `rules` (their `key` rules) and of `reportKeys`; null when there are none. */
export function compileRequestKeys(rules: readonly Rule[], reportKeys: readonly RateLimitKey[]): RequestKeys | null {
  const specs = new Map<string, { key: RateLimitKey; text: string; bans: Map<string, number[]> | null; reported: boolean }>();
  const specOf = (key: RateLimitKey) => {
    const text = formatRateLimitKey(key);
    let spec = specs.get(text);
    if (spec === undefined) {
      spec = { key, text, bans: null, reported: false };
      specs.set(text, spec);
    }
    return spec;
  };
  for (const key of reportKeys) specOf(key).reported = true;
  rules.forEach((rule, i) => {
    if (rule.kind !== 'key') return;
    // Values were checked when the file was read or the rule made; an odd one is skipped, not trusted.
    let parsed;
    try {
      parsed = parseKeyHash(rule.value);
    } catch {
      return;
    }
    const spec = specOf(parsed.key);
    const bans = (spec.bans ??= new Map());
    const list = bans.get(parsed.hash);
    if (list) list.push(i);
    else bans.set(parsed.hash, [i]);
  });
  if (specs.size === 0) return null;
  const list = [...specs.values()];
  return {
    specs: list,
    hasBans: list.some((s) => s.bans !== null),
    hasReported: list.some((s) => s.reported),
    byUser: list.some((s) => s.key.by === 'user'),
  };
}
