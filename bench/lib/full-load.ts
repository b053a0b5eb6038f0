/**
 * "Everything loaded": the rules and data a busy site would hold, shared by the engine and server
 * benches so both measure the same thing. Big lists of path and user-agent patterns, a large threat
 * list in the data file, and one rule of every other kind.
 */
import { buildDataFile } from '../../packages/moat/src/data/build-data.js';
import { writeRulesFile } from '../../packages/moat/src/format/write-rules.js';
import type { IpRange } from '../../packages/moat/src/ip/range.js';
import type { AttackSettings } from '../../packages/moat/src/rules/attack-settings.js';
import { normalizeRule, type RuleInput } from '../../packages/moat/src/rules/normalize-rule.js';
import type { Rule } from '../../packages/moat/src/rules/types.js';
import { syntheticPatterns } from './synthetic.js';

/** Writes a data file whose one list, `threats`, holds `ranges`. */
export function writeThreatData(ranges: readonly IpRange[], path: string): void {
  buildDataFile({ lists: [{ name: 'threats', ranges: [...ranges], summary: { name: 'threats', kind: 'list', ranges: ranges.length, invalidLines: 0 } }] }, path);
}

export interface FullRulesOptions {
  pathPatterns: number;
  userAgentPatterns: number;
  /** Requests allowed per minute on POST /login. */
  loginLimit: number;
  /** More rules (IP blocks, allows) for the bench at hand. */
  extra?: readonly RuleInput[];
  /** Attack detection settings written into the file (none: detection off). */
  attacks?: AttackSettings;
}

/** Writes the rules file: path and user-agent patterns, the threat list, and one rule of every other kind. */
export function writeFullRules(o: FullRulesOptions, path: string): void {
  const block = (kind: RuleInput['kind'], value: string): Rule => normalizeRule({ action: 'block', kind, value });
  const rules: Rule[] = [
    ...syntheticPatterns(o.pathPatterns, '/').map((p) => block('path', p)),
    ...syntheticPatterns(o.userAgentPatterns, 'agent-').map((p) => block('userAgent', p)),
    ...(o.extra ?? []).map((r) => normalizeRule(r)),
    block('list', 'threats'),
    block('param', '<script'),
    block('host', 'admin.example.com'),
    block('method', 'TRACE'),
    normalizeRule({ action: 'block', kind: 'rateLimit', value: '/login', rateLimit: { path: '/login', method: 'POST', limit: o.loginLimit, window: '60s' } }),
  ];
  writeRulesFile(rules, path, o.attacks === undefined ? {} : { attacks: o.attacks });
}
