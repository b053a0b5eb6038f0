/**
 * Compiles a site's rules into both client formats. In place for a few rules; in a worker thread
 * (rules-builder.ts) for many: compiling costs about 33 µs a rule, half a second at 15 000 (rules plus
 * automatic bans), and every rule change and ban recompiles.
 */
import type { AttackSettings, BotSettings, RateLimitKey } from 'moat-waf';
import { compileMoatRules, compileWafrisRules, type CompiledFile, type Rule } from './compile.js';

export interface CompileJobInput {
  rules: Rule[];
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
}

export function run(input: CompileJobInput): CompileJobResult {
  return {
    moat: compileMoatRules(input.rules, input.moatPath, input.attacks, input.bots, input.reportKeys),
    wafris: compileWafrisRules(input.rules, input.wafrisPath, input.now),
  };
}
