/**
 * A rules file as the evaluator holds it: every structure a request needs, built once per file version
 * (ranges flattened, matchers compiled, lookups keyed), so evaluating reads no table and loops over no rules.
 */
import { parseRange, splitByFamily } from "../ip/range.js";
import type { FlatRanges } from '../ranges/flatten.js';
import { flattenRanges } from '../ranges/flatten.js';
import { LabelSets, RangeTable } from '../ranges/range-table.js';
import type { RangeLookup } from '../ranges/range-table.js';
import type { Rule } from '../rules/types.js';
import { SubstringMatcher } from './substring-matcher.js';
import { ExactIndex } from './exact-index.js';
import type { AttackSettings } from '../rules/attack-settings.js';
import { compileAttackPolicy, type AttackPolicy } from '../attacks/request-attacks.js';
import type { BotSettings } from '../rules/bot-settings.js';
import { compileBotPolicy, type BotPolicy } from '../bots/bot-policy.js';
import type { RateLimitKey } from '../rules/types.js';
import { compileRequestKeys, type RequestKeys } from './request-keys.js';

export interface RulesFileInfo {
  path: string | null;
  /** `moat` for Moat rules files, `wafris` for Wafris custom_rules files. */
  format: 'moat' | 'wafris';
  formatVersion: number;
  builtAt: string | null;
  hash: string;
}

export interface IpRuleIndex {
  table: RangeLookup;
  /** Label-set id → rule indices, most specific range first. */
  sets: number[][];
}

export interface RuleSet {
  info: RulesFileInfo;
  rules: readonly Rule[];
  /** Per rule index: true when an IP rule covers a single address (category ai/bi rather than ac/bc). */
  singleIp: readonly boolean[];
  allowIps: IpRuleIndex;
  blockIps: IpRuleIndex;
  countries: ReadonlyMap<string, number[]>;
  asns: ReadonlyMap<string, number[]>;
  lists: ReadonlyMap<string, number[]>;
  userAgents: SubstringMatcher;
  paths: SubstringMatcher;
  params: SubstringMatcher;
  hosts: ExactIndex;
  methods: ExactIndex;
  /** Rate-limit rule indices by exact path, and the prefix ones to test in turn. */
  rateLimitsExact: ExactIndex;
  rateLimitsPrefix: readonly number[];
  /** True when the rules need the data file (country, ASN or list rules). */
  needsData: boolean;
  /** Attack-detection settings as the file holds them; null = none (detection off). */
  attackSettings: AttackSettings | null;
  /** The same compiled for the request path; null when every category is off. */
  attacks: AttackPolicy | null;
  /** Bot settings with their catalogue as the file holds them; null = none (bot detection off). */
  botSettings: BotSettings | null;
  /** The same compiled for the request path; null when every key is off. */
  bots: BotPolicy | null;
  /** Keys the file asks clients to report with each request (the hub's keyed threshold rules); usually none. */
  reportKeys: readonly RateLimitKey[];
  /** Keyed bans and reported keys compiled for the request path; null when the file has neither. */
  keys: RequestKeys | null;
}

/** Sizes of each IP rule's range, for ordering label sets most-specific first. */
function ipSizes(rules: readonly Rule[]): Map<number, bigint> {
  const sizes = new Map<number, bigint>();
  rules.forEach((r, i) => {
    if (r.kind === 'ip') {
      const range = parseRange(r.value);
      sizes.set(i, range.end - range.start);
    }
  });
  return sizes;
}

/** Flattens the IP rules of one action into non-overlapping ranges labelled with rule indices. */
export function flattenIpRules(rules: readonly Rule[], action: 'allow' | 'block'): FlatRanges {
  const inputs: { range: ReturnType<typeof parseRange>; label: number }[] = [];
  rules.forEach((r, i) => {
    if (r.kind === 'ip' && r.action === action) inputs.push({ range: parseRange(r.value), label: i });
  });
  return flattenRanges(splitInputs(inputs));
}

function* splitInputs(inputs: { range: ReturnType<typeof parseRange>; label: number }[]) {
  for (const { range, label } of inputs) {
    // Rules like ::ffff:10.0.0.0/104 or ::/0 cover IPv4 addresses too; the IPv4 part joins the IPv4 table.
    for (const part of splitByFamily(range)) yield { range: part, label };
  }
}




/** Builds the range table and label sets for one action's flattened ranges. */
export function ipIndexFromFlat(flat: FlatRanges, rules: readonly Rule[]): IpRuleIndex {
  const sizes = ipSizes(rules);
  const labelSets = new LabelSets();
  const table = RangeTable.fromFlat(flat, (labels) =>
    labelSets.intern([...labels].sort((a, b) => {
      const d = (sizes.get(a) ?? 0n) - (sizes.get(b) ?? 0n);
      return d < 0n ? -1 : d > 0n ? 1 : a - b;
    })),
  );
  return { table, sets: labelSets.sets };
}

function keyed(rules: readonly Rule[], kind: Rule['kind'], key: (r: Rule) => string = (r) => r.value): Map<string, number[]> {
  const m = new Map<string, number[]>();
  rules.forEach((r, i) => {
    if (r.kind !== kind) return;
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  });
  return m;
}

function matcher(rules: readonly Rule[], kind: Rule['kind']): SubstringMatcher {
  const entries: { pattern: string; rule: number }[] = [];
  rules.forEach((r, i) => {
    if (r.kind === kind) entries.push({ pattern: r.value, rule: i });
  });
  return new SubstringMatcher(entries);
}

/**
 * Builds everything but the IP indexes from the rule list; IP indexes come either from the file's
 * stored ranges (Moat format) or from flattening now (Wafris files, freshly compiled rules).
 */
export function buildRuleSet(
  rules: readonly Rule[],
  info: RulesFileInfo,
  ipIndexes?: { allow: IpRuleIndex; block: IpRuleIndex },
  attackSettings: AttackSettings | null = null,
  botSettings: BotSettings | null = null,
  reportKeys: readonly RateLimitKey[] = [],
): RuleSet {
  const allowIps = ipIndexes?.allow ?? ipIndexFromFlat(flattenIpRules(rules, 'allow'), rules);
  const blockIps = ipIndexes?.block ?? ipIndexFromFlat(flattenIpRules(rules, 'block'), rules);
  const rateLimitsExact = new Map<string, number[]>();
  const rateLimitsPrefix: number[] = [];
  rules.forEach((r, i) => {
    if (r.kind !== 'rateLimit') return;
    if (r.rateLimit.match === 'prefix') rateLimitsPrefix.push(i);
    else {
      const list = rateLimitsExact.get(r.rateLimit.path);
      if (list) list.push(i);
      else rateLimitsExact.set(r.rateLimit.path, [i]);
    }
  });
  const singleIp = rules.map((r) => {
    if (r.kind !== 'ip') return false;
    const range = parseRange(r.value);
    return range.start === range.end;
  });
  return {
    info,
    rules,
    singleIp,
    allowIps,
    blockIps,
    countries: keyed(rules, 'country'),
    asns: keyed(rules, 'asn'),
    lists: keyed(rules, 'list'),
    userAgents: matcher(rules, 'userAgent'),
    paths: matcher(rules, 'path'),
    params: matcher(rules, 'param'),
    hosts: new ExactIndex(keyed(rules, 'host')),
    methods: new ExactIndex(keyed(rules, 'method')),
    rateLimitsExact: new ExactIndex(rateLimitsExact),
    rateLimitsPrefix,
    needsData: rules.some((r) => r.kind === 'country' || r.kind === 'asn' || r.kind === 'list'),
    attackSettings,
    attacks: compileAttackPolicy(attackSettings),
    botSettings,
    bots: compileBotPolicy(botSettings),
    reportKeys,
    keys: compileRequestKeys(rules, reportKeys),
  };
}

/** Canonical order of rules in a file: content decides it, not the author's order, so hashes are stable. */
export function sortRules(rules: readonly Rule[]): Rule[] {
  return [...rules].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
