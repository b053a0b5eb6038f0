import { tryParseIp, tryParseRange, type IpRange } from 'moat-waf/ip';
import { quickBlockValue } from '../rules/quick-block.js';
import type { RuleLookup } from '../store/rule-lookup.js';
import type { StoredRule } from '../store/store.js';

/**
 * Which of a site's rules already covers a value shown in a top list or on the IP page, so the page
 * shows "Blocked by …" with its expiry and an undo instead of offering the same Block button again.
 * Pure: rules in, answer out. The rules are indexed once per page, so a page of forty values costs
 * one pass over the rules, not forty.
 */
export type CoveredKind = 'ip' | 'country' | 'path' | 'userAgent';

export interface Coverage {
  rule: StoredRule;
  /** The rule's value is exactly this value (quick block made it, or could have): undo deletes it. */
  exact: boolean;
  /** What the rule does to this value, for the badge. */
  state: 'blocked' | 'monitored' | 'allowed';
}

export interface RuleCoverage {
  of(kind: CoveredKind, value: string): Coverage | undefined;
}

export function ruleCoverage(rules: readonly StoredRule[], nowMs: number): RuleCoverage {
  const active = rules.filter((r) => r.kind !== 'rateLimit' && (r.expires === undefined || r.expires > nowMs));
  const ipRules: { rule: StoredRule; range: IpRange }[] = [];
  const byKind = new Map<string, StoredRule[]>();
  for (const rule of active) {
    if (rule.kind === 'ip') {
      const range = tryParseRange(rule.value);
      if (range) ipRules.push({ rule, range });
    } else {
      const list = byKind.get(rule.kind);
      if (list) list.push(rule); else byKind.set(rule.kind, [rule]);
    }
  }
  // Allow rules win over block rules in the engine (checked first), so they are looked at first too.
  const order = (a: StoredRule, b: StoredRule) => (a.action === b.action ? 0 : a.action === 'allow' ? -1 : 1);
  ipRules.sort((a, b) => order(a.rule, b.rule));
  for (const list of byKind.values()) list.sort(order);

  const covered = (rule: StoredRule, exact: boolean): Coverage => ({
    rule, exact, state: rule.action === 'allow' ? 'allowed' : rule.mode === 'monitor' ? 'monitored' : 'blocked',
  });
  return {
    of(kind, value) {
      if (kind === 'ip') {
        const ip = tryParseIp(value);
        if (!ip) return undefined;
        let found: Coverage | undefined;
        for (const { rule, range } of ipRules) {
          if (range.family !== ip.family || ip.value < range.start || ip.value > range.end) continue;
          const exact = range.start === range.end;
          // The narrowest answer is the one an undo can act on; a broader rule is still shown.
          if (!found || (exact && !found.exact && found.rule.action === rule.action)) found = covered(rule, exact);
        }
        return found;
      }
      const candidates = byKind.get(kind) ?? [];
      if (kind === 'country') {
        const rule = candidates.find((r) => r.value === value.toUpperCase());
        return rule ? covered(rule, true) : undefined;
      }
      // Substring rules: a "/wp-admin" rule covers "/wp-admin/setup.php"; the exact one is preferred.
      // Case-insensitive, as the engine matches: a "nikto" rule covers "Nikto/2.5.0".
      const lower = value.toLowerCase();
      const exact = candidates.find((r) => r.value.toLowerCase() === lower);
      if (exact) return covered(exact, true);
      const broader = candidates.find((r) => lower.includes(r.value.toLowerCase()));
      return broader ? covered(broader, false) : undefined;
    },
  };
}

/**
 * Every active rule that applies to one IP: IP and range rules holding it, and the country, network and
 * list rules of what the data file says of it. Allow rules first, as the engine checks them first.
 */
export function rulesForIp(
  rules: readonly StoredRule[], ip: string, facts: { country: string | null; asn: string | null; lists: readonly string[] }, nowMs: number,
): StoredRule[] {
  const address = tryParseIp(ip);
  if (!address) return [];
  const out = rules.filter((r) => {
    if (r.expires !== undefined && r.expires <= nowMs) return false;
    switch (r.kind) {
      case 'ip': {
        const range = tryParseRange(r.value);
        return range !== null && range.family === address.family && address.value >= range.start && address.value <= range.end;
      }
      case 'country': return facts.country !== null && r.value === facts.country;
      case 'asn': return facts.asn !== null && r.value === facts.asn;
      case 'list': return facts.lists.includes(r.value);
      default: return false;
    }
  });
  return out.sort((a, b) => (a.action === b.action ? 0 : a.action === 'allow' ? -1 : 1));
}

/**
 * What to ask the store (HubStore.rulesFor) so that ruleCoverage answers for these values as it would
 * with every rule of the site: each value as reported and as its one-click form (quick actions ask with
 * that form), plus the rules of `ids`.
 */
export function coverageLookup(values: readonly { kind: CoveredKind; value: string }[], ids: readonly string[] = []): RuleLookup {
  const asked: Record<CoveredKind, Set<string>> = { ip: new Set(), country: new Set(), path: new Set(), userAgent: new Set() };
  for (const { kind, value } of values) {
    const quick = quickBlockValue(kind, value);
    for (const form of quick.ok ? [value, quick.value] : [value]) asked[kind].add(kind === 'country' ? form.toUpperCase() : form);
  }
  return {
    ips: [...asked.ip], countries: [...asked.country], paths: [...asked.path], userAgents: [...asked.userAgent], ids: [...new Set(ids)],
  };
}
