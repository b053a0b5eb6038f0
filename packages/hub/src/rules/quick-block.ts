import type { Rule } from 'moat-waf';
import { formatIp, tryParseIp, tryParseRange } from 'moat-waf/ip';
import { broadRuleReason, hasHiddenCharacters, kindName } from './rule-breadth.js';

/** The rule kinds the overview's top lists offer one-click Block / Monitor for. */
export const QUICK_BLOCK_KINDS = ['ip', 'path', 'userAgent', 'country'] as const;
export type QuickBlockKind = (typeof QUICK_BLOCK_KINDS)[number];

/** Same cap as the engine's rule values; a longer reported value is refused, never cut. */
const MAX_VALUE = 1024;

export type QuickBlockValue = { ok: true; value: string } | { ok: false; reason: string };

/**
 * The value a one-click rule gets from a value shown in a top list. Reported values are attacker text
 * (paths, user agents, and with Wafris clients even the IP), so this derives exactly one narrow rule or
 * refuses: an IP must be one address (an IPv4-mapped address becomes its IPv4 form, which the engine
 * matches in both spellings), never a prefix or range; a value with control or invisible characters,
 * an over-long value, or one that would match every request is refused. Ranges and deliberate broad
 * rules go through the full rule form.
 */
export function quickBlockValue(kind: QuickBlockKind, reported: string): QuickBlockValue {
  if (hasHiddenCharacters(reported)) {
    return { ok: false, reason: 'the value holds control or invisible characters, so a rule made from it would not be what the page shows' };
  }
  if (reported.length > MAX_VALUE) return { ok: false, reason: `the value is longer than ${MAX_VALUE} characters` };
  const text = reported.trim(); // String.prototype.trim removes every Unicode space, U+3000 included
  if (text === '') return { ok: false, reason: 'the value is empty or only spaces' };
  switch (kind) {
    case 'ip': {
      // Digits, hex, ':' and '.' only: no prefix, range or zone ("%eth0-…") can ride along and be dropped.
      const address = /^[0-9A-Fa-f:.]+$/.test(text) ? tryParseIp(text) : null;
      if (!address) {
        return { ok: false, reason: `${quote(text)} is not one IP address; quick block never creates a range (add ranges on the Rules page)` };
      }
      return { ok: true, value: formatIp(address) };
    }
    case 'country': {
      const code = text.toUpperCase();
      if (!/^[A-Z]{2}$/.test(code)) return { ok: false, reason: `${quote(text)} is not a two-letter country code` };
      return { ok: true, value: code };
    }
    default: {
      // Substring values stay exactly as reported (the engine matches spaces too); only their visible
      // part decides whether they would match everything.
      const broad = broadRuleReason({ kind, value: reported });
      return broad ? { ok: false, reason: broad } : { ok: true, value: reported };
    }
  }
}

/**
 * Checks the rule the engine's validation made from a quick-block value, after its normalisation: an IP
 * rule still names exactly one address, and no rule matches everything. Undefined when it is fine.
 */
export function quickRuleProblem(rule: Pick<Rule, 'kind' | 'value'>): string | undefined {
  if (rule.kind === 'ip') {
    const range = tryParseRange(rule.value);
    if (!range || range.start !== range.end) return `the ${kindName(rule.kind)} rule ${quote(rule.value)} would cover more than one address`;
  }
  return broadRuleReason(rule);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
