import type { Rule } from 'moat-waf';
import type { HubStore } from '../store/store.js';
import { broadRuleReason, hasHiddenCharacters } from './rule-breadth.js';
import { estimateImpact, type RuleImpact } from './rule-impact.js';

export interface RuleConcerns {
  /** Empty when the rule may be stored without asking. */
  reasons: string[];
  impact?: RuleImpact;
}

/**
 * Why the dashboard should ask before storing this rule: it matches everything (or nearly every
 * address), or, as a blocking rule, it would have matched a large share of recent traffic. Monitor-mode
 * and allow rules serve every request as before, so only their breadth is checked.
 */
export async function ruleConcerns(store: HubStore, siteId: number, rule: Pick<Rule, 'action' | 'kind' | 'value' | 'mode'>, nowSeconds: number): Promise<RuleConcerns> {
  const reasons: string[] = [];
  const broad = broadRuleReason(rule);
  if (broad) reasons.push(broad);
  if (hasHiddenCharacters(rule.value)) reasons.push('the value holds invisible characters (shown as \\u escapes), so it is not what it looks like');
  if (rule.action !== 'block' || rule.mode !== 'block') return { reasons };
  const impact = await estimateImpact(store, siteId, rule, nowSeconds);
  if (impact?.concern) reasons.push(impact.concern);
  return { reasons, impact };
}
