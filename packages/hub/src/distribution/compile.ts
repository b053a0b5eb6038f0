/**
 * The hub's only contact with the engine's rule compiler, so that changes in the engine's API touch
 * this file alone.
 */
import {
  RuleError, normalizeRule, parseRulesDocument, rulesToDocument, writeRulesFile, writeWafrisRulesFile,
} from 'moat';
import type { Rule, RuleInput } from 'moat';

export type { Rule, RuleInput };
export { RuleError };

/** Validates and canonicalises one rule; throws RuleError with a message fit to show. */
export function toRule(input: RuleInput): Rule {
  return normalizeRule(input);
}

/** Rules from a rules document (JSON or YAML text); throws RuleError naming the bad entry. */
export function rulesFromDocumentText(text: string, fileName = 'rules.json'): Rule[] {
  return parseRulesDocument(text, fileName);
}

export function rulesAsDocument(rules: readonly Rule[]): object {
  return rulesToDocument(rules);
}

export interface CompiledFile {
  path: string;
  /** Content hash: equal rules give an equal hash, so clients see no change. */
  hash: string;
  /** Rules the format cannot express (Wafris), with the reason. */
  skipped: { id: string; reason: string }[];
}

export function compileMoatRules(rules: readonly Rule[], outPath: string): CompiledFile {
  const written = writeRulesFile(rules, outPath);
  return { path: written.path, hash: written.hash, skipped: [] };
}

export function compileWafrisRules(rules: readonly Rule[], outPath: string, now: number): CompiledFile {
  const written = writeWafrisRulesFile(rules, outPath, now);
  return { path: written.path, hash: written.hash, skipped: written.skipped };
}
