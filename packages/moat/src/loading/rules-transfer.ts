/**
 * A compiled rule set as it crosses from the load worker to the serving thread. Compiling a big rules
 * file is the costly part (the substring automata of 10 k + 10 k patterns took 0.3–0.9 s on this
 * machine, measured): it happens in the worker. The automata, their rule lists and the IP range tables
 * are typed arrays and are moved; the rules and the other index lists travel as JSON slices (json-slices.ts); the
 * serving thread parses them a slice per event-loop turn and puts the finished parts together.
 */
import { ExactIndex } from '../engine/exact-index.js';
import type { IpRuleIndex, RuleSet, RulesFileInfo } from '../engine/rule-set.js';
import type { SubstringAutomatonParts } from '../engine/substring-automaton.js';
import { SubstringMatcher } from '../engine/substring-matcher.js';
import { RangeTable, type RangeTableArrays } from '../ranges/range-table.js';
import { sharedWord, type RateLimitKey, type Rule } from '../rules/types.js';
import { compileRequestKeys } from '../engine/request-keys.js';
import { movable, movableRangeArrays } from './data-transfer.js';
import { jsonSlices, parseSlices, type SliceTimer } from './json-slices.js';
import { compileAttackPolicy } from '../attacks/request-attacks.js';
import type { AttackSettings } from '../rules/attack-settings.js';
import type { BotSettings } from '../rules/bot-settings.js';
import { compileBotPolicy } from '../bots/bot-policy.js';
import { MoatError } from '../errors/moat-error.js';

type AutomatonArrays = Omit<SubstringAutomatonParts, 'size'>;

interface PackedMatcher {
  automaton: { arrays: AutomatonArrays; size: number } | null;
  ruleStart: Int32Array;
  ruleIndex: Int32Array;
  patternCount: number;
}

interface PackedIpIndex {
  arrays: RangeTableArrays;
  setSlices: string[];
}

const KEYED = ['countries', 'asns', 'lists'] as const;
const EXACT = ['hosts', 'methods', 'rateLimitsExact'] as const;
const MATCHERS = ['userAgents', 'paths', 'params'] as const;

export interface PackedRuleSet {
  info: RulesFileInfo;
  ruleSlices: string[];
  singleIp: Uint8Array;
  allowIps: PackedIpIndex;
  blockIps: PackedIpIndex;
  /** Map entries ([key, rule indices]) as JSON slices, by RuleSet field. */
  maps: Record<(typeof KEYED)[number] | (typeof EXACT)[number], string[]>;
  matchers: Record<(typeof MATCHERS)[number], PackedMatcher>;
  rateLimitsPrefix: number[];
  needsData: boolean;
  /** Small plain data (eight modes, a few exclusions): structured-cloned, compiled again on arrival. */
  attackSettings: AttackSettings | null;
  /** Modes and a catalogue of a few hundred tokens: cloned, compiled again on arrival (well under a millisecond). */
  botSettings: BotSettings | null;
  /** At most eight key texts: cloned; the keys index is built again on arrival from them and the rules. */
  reportKeys: RateLimitKey[];
}

/** Packs a compiled rule set; `transfer` lists the buffers postMessage must move. */
export function packRuleSet(rules: RuleSet): { packed: PackedRuleSet; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const ipIndex = (index: IpRuleIndex): PackedIpIndex => {
    if (!(index.table instanceof RangeTable)) throw new MoatError('MOAT_ERR_INTERNAL', 'only an in-memory rule set can be packed');
    return { arrays: movableRangeArrays(index.table, transfer), setSlices: jsonSlices(index.sets) };
  };
  const matcher = (m: SubstringMatcher): PackedMatcher => {
    const parts = m.toParts();
    let automaton: PackedMatcher['automaton'] = null;
    if (parts.automaton !== null) {
      const { size, ...typed } = parts.automaton;
      const arrays = {} as Record<string, Uint8Array | Uint16Array | Int32Array>;
      for (const [name, arr] of Object.entries(typed)) arrays[name] = movable(arr, transfer);
      automaton = { arrays: arrays as unknown as AutomatonArrays, size };
    }
    return {
      automaton, ruleStart: movable(parts.ruleStart, transfer), ruleIndex: movable(parts.ruleIndex, transfer), patternCount: parts.patternCount,
    };
  };
  const exactEntries = (index: ExactIndex) => jsonSlices(index.entries());
  const packed: PackedRuleSet = {
    info: rules.info,
    ruleSlices: jsonSlices(rules.rules),
    singleIp: movable(Uint8Array.from(rules.singleIp, (b) => (b ? 1 : 0)), transfer),
    allowIps: ipIndex(rules.allowIps),
    blockIps: ipIndex(rules.blockIps),
    maps: {
      countries: jsonSlices(rules.countries), asns: jsonSlices(rules.asns), lists: jsonSlices(rules.lists),
      hosts: exactEntries(rules.hosts), methods: exactEntries(rules.methods), rateLimitsExact: exactEntries(rules.rateLimitsExact),
    },
    matchers: { userAgents: matcher(rules.userAgents), paths: matcher(rules.paths), params: matcher(rules.params) },
    rateLimitsPrefix: [...rules.rateLimitsPrefix],
    needsData: rules.needsData,
    attackSettings: rules.attackSettings,
    botSettings: rules.botSettings,
    reportKeys: [...rules.reportKeys],
  };
  return { packed, transfer };
}

/** The rule set again, on the receiving thread; yields to the event loop between slices. */
export async function unpackRuleSet(packed: PackedRuleSet, onSlice?: SliceTimer): Promise<RuleSet> {
  const rules = await parseSlices<Rule>(packed.ruleSlices, onSlice);
  for (const rule of rules) {
    rule.kind = sharedWord(rule.kind);
    rule.action = sharedWord(rule.action);
    rule.mode = sharedWord(rule.mode);
  }
  const ipIndex = async (p: PackedIpIndex): Promise<IpRuleIndex> =>
    ({ table: new RangeTable(p.arrays), sets: await parseSlices<number[]>(p.setSlices, onSlice) });
  const map = async (slices: string[]) => new Map(await parseSlices<[string, number[]]>(slices, onSlice));
  const matcher = (p: PackedMatcher): SubstringMatcher => SubstringMatcher.fromParts({
    automaton: p.automaton === null ? null : { ...p.automaton.arrays, size: p.automaton.size },
    ruleStart: p.ruleStart, ruleIndex: p.ruleIndex, patternCount: p.patternCount,
  });
  return {
    info: packed.info,
    rules,
    singleIp: Array.from(packed.singleIp, (b) => b === 1),
    allowIps: await ipIndex(packed.allowIps),
    blockIps: await ipIndex(packed.blockIps),
    countries: await map(packed.maps.countries),
    asns: await map(packed.maps.asns),
    lists: await map(packed.maps.lists),
    userAgents: matcher(packed.matchers.userAgents),
    paths: matcher(packed.matchers.paths),
    params: matcher(packed.matchers.params),
    hosts: new ExactIndex(await map(packed.maps.hosts)),
    methods: new ExactIndex(await map(packed.maps.methods)),
    rateLimitsExact: new ExactIndex(await map(packed.maps.rateLimitsExact)),
    rateLimitsPrefix: packed.rateLimitsPrefix,
    needsData: packed.needsData,
    attackSettings: packed.attackSettings,
    attacks: compileAttackPolicy(packed.attackSettings),
    botSettings: packed.botSettings,
    bots: compileBotPolicy(packed.botSettings),
    reportKeys: packed.reportKeys,
    keys: compileRequestKeys(rules, packed.reportKeys),
  };
}
