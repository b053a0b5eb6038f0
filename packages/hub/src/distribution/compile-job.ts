/**
 * Compiles a site's rules into both client formats. In place for a few rules; in a worker thread
 * (rules-builder.ts) for many: compiling costs about 33 µs a rule, half a second at 15 000 (rules plus
 * automatic bans), and every rule change and ban recompiles.
 */
import Database from 'better-sqlite3';
import type { AttackSettings, BotSettings, RateLimitKey } from 'moat-waf';
import { readSiteRules } from '../store/sqlite/rule-columns.js';
import type { StoredRule } from '../store/store.js';
import { compileMoatRules, compileWafrisRules, type CompiledFile, type Rule } from './compile.js';

export interface CompileJobInput {
  /** Rules to compile (after the stored ones, when `storedRulesFrom` is given). */
  rules: Rule[];
  /**
   * A SQLite store's file and the site whose stored rules come first: the worker reads them itself, so a
   * big site's whole list (about 45 ms at 10,000 rules, right after a write) never blocks the hub's loop.
   */
  storedRulesFrom?: { file: string; siteId: number };
  attacks: AttackSettings | null;
  bots: BotSettings | null;
  reportKeys: RateLimitKey[];
  /** Where each format's file is written (temporary names the builder renames). */
  moatPath: string;
  wafrisPath: string;
  /** The Wafris file leaves out rules expired at this time (Wafris knows no expiry). */
  now: number;
}

export interface CompileJobResult {
  moat: CompiledFile;
  wafris: CompiledFile;
  /** Rules compiled (stored ones read by the job included). */
  ruleCount: number;
}

export function run(input: CompileJobInput): CompileJobResult {
  const rules = input.storedRulesFrom === undefined ? input.rules : [...storedRules(input.storedRulesFrom).map(plainRule), ...input.rules];
  return {
    moat: compileMoatRules(rules, input.moatPath, input.attacks, input.bots, input.reportKeys),
    wafris: compileWafrisRules(rules, input.wafrisPath, input.now),
    ruleCount: rules.length,
  };
}

/** A site's rules as committed now (WAL: a reader of its own sees every finished write). */
function storedRules(from: { file: string; siteId: number }): StoredRule[] {
  const db = new Database(from.file, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    return readSiteRules(db, from.siteId);
  } finally {
    db.close();
  }
}

/** The engine's Rule without the hub's bookkeeping fields. */
export function plainRule(r: StoredRule): Rule {
  const rule: Rule = r.kind === 'rateLimit'
    ? { id: r.id, action: 'block', kind: r.kind, value: r.value, mode: r.mode, rateLimit: r.rateLimit }
    : { id: r.id, action: r.action, kind: r.kind, value: r.value, mode: r.mode };
  if (r.note !== undefined) rule.note = r.note;
  if (r.expires !== undefined) rule.expires = r.expires;
  return rule;
}
