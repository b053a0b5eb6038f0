import type { Rule } from 'moat-waf';
import { wafrisReportedAs } from 'moat-waf/wafris';
import type { RuleHitKeys, RuleHits } from '../store/store.js';

export interface RuleHitCount {
  /** Requests this rule decided. */
  hits: number;
  /** Requests this monitor-mode rule matched and would have blocked. */
  wouldBlock: number;
}

/**
 * Every category and entry a client reports when this rule decides: Moat's own forms, plus the forms the
 * Wafris gem reports from the exported rows (country tokens, case and encoding variants, the rate
 * limit's number). Distinct after lower-casing, since matches are counted case-insensitively.
 */
function reportedAs(rule: Rule): string[] {
  const keys = new Set<string>();
  for (const key of moatReportedAs(rule)) keys.add(key.toLowerCase());
  for (const r of wafrisReportedAs(rule)) keys.add(`${r.category}\t${r.rule}`.toLowerCase());
  return [...keys];
}

function moatReportedAs(rule: Rule): string[] {
  switch (rule.kind) {
    case 'ip': return [`${rule.action === 'allow' ? 'ai' : 'bi'}\t${rule.value}`];
    case 'country': return [`bctry\tG_${rule.value}`, `bctry\t${rule.value}`];
    case 'userAgent': return [`bu\t${rule.value}`];
    case 'path': return [`bp\t${rule.value}`];
    case 'param': return [`bparam\t${rule.value}`];
    case 'host': return [`bh\t${rule.value}`];
    case 'method': return [`bm\t${rule.value}`];
    case 'rateLimit': return [`brl\t${rule.id}`];
    default: return [];
  }
}

/**
 * What the store looks up to count these rules' hits: their ids, and every entry a client reports for
 * them, as written and lower-cased (the count matches entries case-insensitively). Looking up only
 * these keeps the cost to the rules shown, whatever values clients made up.
 */
export function ruleHitKeys(rules: readonly Rule[]): RuleHitKeys {
  const matches = new Set<string>();
  for (const rule of rules) {
    for (const key of moatReportedAs(rule)) matches.add(key).add(key.toLowerCase());
    for (const r of wafrisReportedAs(rule)) {
      const key = `${r.category}\t${r.rule}`;
      matches.add(key).add(key.toLowerCase());
    }
  }
  return { ids: rules.map((r) => r.id), matches: [...matches] };
}

/**
 * Hit counts per rule: from reports that carry the rule id, plus, for clients that report only a
 * category and entry (Wafris), the reports whose entry is this rule's value. Range rules reported by
 * address cannot be attributed that way and count only through ids.
 */
export function countRuleHits(rules: readonly Rule[], hits: RuleHits): Map<string, RuleHitCount> {
  const lowerMatch = new Map<string, number>();
  for (const [key, n] of hits.byMatch) {
    const lower = key.toLowerCase();
    lowerMatch.set(lower, (lowerMatch.get(lower) ?? 0) + n);
  }
  const out = new Map<string, RuleHitCount>();
  for (const rule of rules) {
    const byId = hits.byId.get(rule.id);
    let matched = 0;
    for (const key of reportedAs(rule)) matched += lowerMatch.get(key.toLowerCase()) ?? 0;
    // Wafris files leave monitor-mode rules out, so entry matches can only belong to blocking rules.
    out.set(rule.id, {
      hits: (byId?.hits ?? 0) + (rule.mode === 'monitor' ? 0 : matched),
      wouldBlock: byId?.monitored ?? 0,
    });
  }
  return out;
}
