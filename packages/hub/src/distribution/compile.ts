/**
 * The hub's only contact with the engine's rule compiler, so that changes in the engine's API touch
 * this file alone.
 */
import { RuleError, normalizeRule, parseRulesDocument, parseRulesSource, rulesToDocument, unsafeRuleProblems, writeRulesFile } from 'moat-waf';
import { writeWafrisRulesFile } from 'moat-waf/wafris';
import type { AttackSettings, BotCatalogue, BotSettings, RateLimitKey, Rule, RuleInput, RulesSource } from 'moat-waf';

export type { Rule, RuleInput };
export { RuleError, unsafeRuleProblems };

/** Validates and canonicalises one rule; throws RuleError with a message fit to show. */
export function toRule(input: RuleInput): Rule {
  return normalizeRule(input);
}

/**
 * An expiry as the engine reads it: Unix milliseconds, or an ISO 8601 date (a time needs `Z` or an
 * offset); throws RuleError otherwise. Read through a rule, so the hub never takes an expiry the engine
 * would refuse (Unix seconds read as 1970, a time without a zone, 2030-02-30).
 */
export function expiryMillis(expires: number | string): number {
  return normalizeRule({ action: 'block', kind: 'method', value: 'GET', expires }).expires!;
}

/** Rules from a rules document (JSON or YAML text); throws RuleError naming the bad entry. */
export function rulesFromDocumentText(text: string, fileName = 'rules.json'): Rule[] {
  return parseRulesDocument(text, fileName);
}

/** The `bots` section of a rules document (null when it has none); throws RuleError naming the problem. */
export function botSettingsFromDocumentText(text: string, fileName = 'rules.json'): BotSettings | null {
  return parseRulesSource(text, fileName).bots;
}

/**
 * A whole rules document — rules, `attacks` and `bots` sections — read once, bot ids checked against
 * `botCatalogue` (the hub's catalogue in force); throws RuleError naming every problem.
 */
export function rulesSourceFromDocumentText(text: string, fileName: string, botCatalogue: BotCatalogue): RulesSource {
  return parseRulesSource(text, fileName, botCatalogue);
}

/** The `attacks` section of a rules document (null when it has none); throws RuleError naming the problem. */
export function attackSettingsFromDocumentText(text: string, fileName = 'rules.json'): AttackSettings | null {
  return parseRulesSource(text, fileName).attacks;
}

export function rulesAsDocument(rules: readonly Rule[], attacks: AttackSettings | null = null, bots: BotSettings | null = null): object {
  return rulesToDocument(rules, attacks, bots);
}

export interface CompiledFile {
  path: string;
  /** Content hash: equal rules give an equal hash, so clients see no change. */
  hash: string;
  /** Rules the format cannot express (Wafris), with the reason. */
  skipped: { id: string; reason: string }[];
}

/**
 * Rules stored before the engine refused them (a "/" block, a blank substring, a window under 1 s) are
 * left out of the compiled files, with the reason, so one old rule cannot stop a site's every rebuild.
 */
function safeRules(rules: readonly Rule[]): { safe: Rule[]; skipped: { id: string; reason: string }[] } {
  const safe: Rule[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (const rule of rules) {
    const problems = unsafeRuleProblems(rule);
    if (problems.length === 0) safe.push(rule);
    else skipped.push({ id: rule.id, reason: problems.join('; ') });
  }
  return { safe, skipped };
}

/**
 * `attacks`, `bots`: the site's attack-detection and bot settings; `reportKeys`: the keys its threshold
 * rules count by, which clients then report hashed (Moat files only; Wafris clients have none of these).
 */
export function compileMoatRules(
  rules: readonly Rule[], outPath: string, attacks: AttackSettings | null = null, bots: BotSettings | null = null,
  reportKeys: readonly RateLimitKey[] = [],
): CompiledFile {
  const { safe, skipped } = safeRules(rules);
  const written = writeRulesFile(safe, outPath, { attacks, bots, reportKeys });
  return { path: written.path, hash: written.hash, skipped };
}

export function compileWafrisRules(rules: readonly Rule[], outPath: string, now: number): CompiledFile {
  const { safe, skipped } = safeRules(rules);
  const written = writeWafrisRulesFile(safe, outPath, now);
  return { path: written.path, hash: written.hash, skipped: [...skipped, ...written.skipped] };
}
