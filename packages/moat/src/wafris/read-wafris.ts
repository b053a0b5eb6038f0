/**
 * Reads Wafris v2 files (custom_rules, data_subscriptions) into Moat's structures, so the evaluator
 * gives them correct semantics: inclusive bounds, /32s, nested ranges and every textual form of an
 * address match, which the Wafris lookup itself misses.
 * Bad entries are skipped and counted, never fatal: a hub's garbage must not take the app down.
 */
import type { Database as Db } from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { formatRange, parseRange, splitByFamily } from '../ip/range.js';
import type { IpRange } from '../ip/range.js';
import { buildRuleSet } from '../engine/rule-set.js';
import type { RuleSet } from '../engine/rule-set.js';
import { normalizeRule } from '../rules/normalize-rule.js';
import type { RuleInput } from '../rules/normalize-rule.js';
import type { Rule } from '../rules/types.js';
import { compileData, dataContentHash } from '../data/build-data.js';
import type { DataSet } from '../data/data-set.js';
import { MOAT_EXPORT_TABLE, decodeMember, rangeFromValues } from './encoding.js';
import { countryOfMemberSuffix, countryOfWafrisToken } from './country-token.js';
import { WAFRIS_RATE_LIMIT_METHODS, wafrisEntryRows } from './rule-rows.js';
import { MoatError, MoatFileError, errorCodeOf } from '../errors/moat-error.js';

/** The list name Wafris reputation ranges get; Wafris blocks them without a rule, so Moat adds one. */
export const WAFRIS_REPUTATION_LIST = 'reputation';

function tables(db: Db): Set<string> {
  return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
}

/**
 * Members grouped by suffix into ranges. A suffix normally names one range (two members); if several
 * ranges share one (a hub reusing `GUS` for every US range), its sorted values are paired in turn, so
 * the gaps between them stay gaps instead of becoming one huge range. A member that does not decode,
 * or a suffix left with an odd member, is counted as invalid.
 */
export function readMemberRanges(db: Db, table: string, startsOneBelow = false): { ranges: { range: IpRange; suffix: string }[]; invalid: number } {
  const bySuffix = new Map<string, bigint[]>();
  let invalid = 0;
  for (const row of db.prepare(`SELECT member FROM "${table}"`).raw(true).iterate() as Iterable<[unknown]>) {
    const m = typeof row[0] === 'string' ? decodeMember(row[0]) : null;
    if (!m) {
      invalid++;
      continue;
    }
    const values = bySuffix.get(m.suffix);
    if (values) values.push(m.value);
    else bySuffix.set(m.suffix, [m.value]);
  }
  const ranges: { range: IpRange; suffix: string }[] = [];
  for (const [suffix, values] of bySuffix) {
    if (values.length > 2) values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    else if (values.length === 2 && values[0]! > values[1]!) values.reverse();
    // i + 1 < values.length: both members of the pair are there (the `!`s).
    for (let i = 0; i + 1 < values.length; i += 2) {
      const first = values[i]!;
      const start = startsOneBelow && first > 0n ? first + 1n : first;
      // Two equal members under one-below starts name no address: one bad pair, not a bad file.
      if (start > values[i + 1]!) invalid++;
      else ranges.push({ range: rangeFromValues(start, values[i + 1]!), suffix });
    }
    if (values.length % 2 === 1) invalid++;
  }
  return { ranges, invalid };
}

export interface WafrisRulesRead {
  rules: Rule[];
  skipped: number;
}

/**
 * Most rows a custom_rules table may hold, and most characters in all of its entries. Each row becomes
 * a rule and each substring entry part of an automaton (about 25 bytes per character), so without a
 * bound a 3.3 MB file of 100 k random user agents took 16 s and 759 MiB to load. The bounds follow
 * Moat's own: a hub holds at most 10,000 rules per site, and its export writes a rule as at most 9 rows
 * (case and encoding forms); 4,000,000 characters is 10,000 rules of 100 characters in 4 forms.
 * A table past either is refused whole (the file in use stays in force): reading its first rows only
 * would enforce an arbitrary part of it and say nothing.
 */
export const MAX_WAFRIS_TABLE_ROWS = 100_000;
export const MAX_WAFRIS_TABLE_CHARS = 4_000_000;
/**
 * The member tables of IP ranges (two 39-digit members per range, and a suffix) are bounded by the same
 * row count, 50,000 ranges; their characters by 100 a member. Unbounded, a table of a million members
 * became half a million rules, each a bigint pair, a map entry and an id.
 */
const MAX_WAFRIS_MEMBER_CHARS = 100 * MAX_WAFRIS_TABLE_ROWS;

/** Refuses a table over the bounds above, before any row is read into memory. */
function checkTableSize(db: Db, table: string, textColumn: string | null, maxChars = MAX_WAFRIS_TABLE_CHARS): void {
  const hasText = textColumn !== null && (db.prepare('SELECT 1 FROM pragma_table_info(?) WHERE name = ?').get(table, textColumn) !== undefined);
  const size = db.prepare(`SELECT count(*) AS n, ${hasText ? `coalesce(sum(length("${textColumn}")), 0)` : '0'} AS chars FROM "${table}"`).get() as { n: number; chars: number };
  if (size.n > MAX_WAFRIS_TABLE_ROWS) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `Wafris table ${table} holds ${size.n} rows; at most ${MAX_WAFRIS_TABLE_ROWS} are read (a rules file of 10,000 rules needs fewer)`);
  }
  if (size.chars > maxChars) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `Wafris table ${table} holds ${size.chars} characters of entries; at most ${maxChars} are read`);
  }
}

/** Ids of the rules read so far, and per id a row claims (a `rule_id` several rows may share) what its rules match. */
interface ClaimedIds {
  taken: Set<string>;
  /** `k:` + the match key of each rule kept under the claim, `v:` + each form a Moat export writes of it. */
  byClaim: Map<string, { forms: Set<string>; rules: number }>;
}

/**
 * The text Moat's matching compares a rule by: rules with equal keys match the same requests. Substring
 * rules match case-insensitively; an IPv4-mapped range is its IPv4 range.
 */
function matchKey(rule: Rule): string {
  switch (rule.kind) {
    case 'ip': return splitByFamily(parseRange(rule.value)).map(formatRange).join(',');
    case 'userAgent': case 'path': case 'param': return rule.value.toLowerCase();
    case 'rateLimit': return JSON.stringify([rule.value, rule.rateLimit]);
    default: return rule.value;
  }
}

/**
 * Adds `rule`, read under the id its row claims. Rows of one rule_id that match alike, or that are the case
 * and encoding forms a Moat export writes of a rule before them (the rule's own text comes first), fold
 * into that rule; a row that matches differently is another rule, kept under the id with `-2`, `-3`, …
 * added, never dropped.
 */
function addClaimed(rules: Rule[], ids: ClaimedIds, rule: Rule): void {
  const claim = rule.id;
  const key = `k:${matchKey(rule)}`;
  const group = ids.byClaim.get(claim);
  if (group !== undefined && (group.forms.has(key) || group.forms.has(`v:${rule.value}`))) return;
  let id = claim;
  for (let n = (group?.rules ?? 0) + 1; ids.taken.has(id); n++) id = `${claim}-${n}`;
  const added = id === claim ? rule : { ...rule, id };
  ids.taken.add(id);
  const forms = group?.forms ?? new Set<string>();
  forms.add(key);
  for (const row of wafrisEntryRows(rule)) forms.add(`v:${row.entry}`);
  ids.byClaim.set(claim, { forms, rules: (group?.rules ?? 0) + 1 });
  rules.push(added);
}

export function readWafrisRules(db: Db): WafrisRulesRead {
  const have = tables(db);
  const inputs: RuleInput[] = [];
  const entries = (table: string, action: 'allow' | 'block', kind: Rule['kind']) => {
    if (!have.has(table)) return;
    checkTableSize(db, table, 'entries');
    // In id order, so a Moat export's rule text comes before the case and encoding forms written for the gem.
    for (const row of db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).iterate() as Iterable<{ entries?: unknown; rule_id?: unknown }>) {
      inputs.push({ action, kind, value: String(row.entries ?? ''), id: ruleId(table, row.rule_id, row.entries) });
    }
  };
  entries('allowed_ips', 'allow', 'ip');
  entries('blocked_ips', 'block', 'ip');
  entries('blocked_user_agents', 'block', 'userAgent');
  entries('blocked_paths', 'block', 'path');
  entries('blocked_parameters', 'block', 'param');
  entries('blocked_hosts', 'block', 'host');
  entries('blocked_methods', 'block', 'method');
  if (have.has('blocked_country_codes')) {
    checkTableSize(db, 'blocked_country_codes', 'entries');
    for (const row of db.prepare('SELECT entries FROM blocked_country_codes ORDER BY rowid').iterate() as Iterable<{ entries?: unknown }>) {
      // Moat writes codes holding a `G` as lower-case tokens (country-token.ts); ZZ is the gem's "unknown".
      const token = String(row.entries ?? '');
      const cc = token.toUpperCase() === 'ZZ' ? 'ZZ' : countryOfWafrisToken(token) ?? token;
      inputs.push({ action: 'block', kind: 'country', value: cc, id: ruleId('blocked_country_codes', null, cc) });
    }
  }
  let skipped = 0;
  for (const [table, action] of [['allowed_cidr_ranges', 'allow'], ['blocked_cidr_ranges', 'block']] as const) {
    if (!have.has(table)) continue;
    checkTableSize(db, table, 'member', MAX_WAFRIS_MEMBER_CHARS);
    const { ranges, invalid } = readMemberRanges(db, table, startsOneBelow(db, have));
    skipped += invalid;
    for (const { range, suffix } of ranges) inputs.push({ action, kind: 'ip', value: formatRange(range), id: ruleId(table, suffix, suffix) });
  }
  if (have.has('blocked_rate_limits')) {
    checkTableSize(db, 'blocked_rate_limits', 'path');
    inputs.push(...rateLimitInputs(db));
  }
  const rules: Rule[] = [];
  const ids: ClaimedIds = { taken: new Set(), byClaim: new Map() };
  for (const input of inputs) {
    let rule: Rule;
    try {
      rule = normalizeRule(input);
    } catch {
      skipped++;
      continue;
    }
    addClaimed(rules, ids, rule);
  }
  return { rules, skipped };
}

/**
 * Rate-limit rows as rules. Rows of one rule (same rule_id, path, interval and count) that cover every
 * method Moat writes for a method-less limit read back as one rule for any method; otherwise each row
 * is a rule of its own method.
 */
function rateLimitInputs(db: Db): RuleInput[] {
  const groups = new Map<string, { row: Record<string, unknown>; methods: (string | null)[] }>();
  for (const row of db.prepare('SELECT * FROM blocked_rate_limits ORDER BY rowid').all() as Record<string, unknown>[]) {
    const key = JSON.stringify([row.rule_id ?? row.id, row.path, row.interval, row.max_count]);
    const method = row.method == null ? null : String(row.method);
    const group = groups.get(key);
    if (group) group.methods.push(method);
    else groups.set(key, { row, methods: [method] });
  }
  const inputs: RuleInput[] = [];
  for (const { row, methods } of groups.values()) {
    const anyMethod = WAFRIS_RATE_LIMIT_METHODS.every((m) => methods.includes(m));
    for (const method of anyMethod ? [null] : methods) {
      const id = ruleId('blocked_rate_limits', row.rule_id ?? row.id, row.path);
      inputs.push({
        action: 'block', kind: 'rateLimit', value: String(row.path ?? ''), id: methods.length > 1 && !anyMethod ? `${id}-${method}` : id,
        rateLimit: { path: String(row.path ?? ''), method, limit: Number(row.max_count), window: Number(row.interval) },
      });
    }
  }
  return inputs;
}

/** Moat's own exports say so: their range start members sit one below the real start (see write-wafris.ts). */
function startsOneBelow(db: Db, have: Set<string>): boolean {
  if (!have.has(MOAT_EXPORT_TABLE)) return false;
  const row = db.prepare(`SELECT value FROM ${MOAT_EXPORT_TABLE} WHERE key = 'range_starts'`).get() as { value?: unknown } | undefined;
  return row?.value === 'one_below';
}

function ruleId(table: string, ruleIdValue: unknown, entry: unknown): string {
  const short = table.replace('blocked_', 'b-').replace('allowed_', 'a-');
  const raw = ruleIdValue ?? createHash('sha256').update(String(entry)).digest('hex').slice(0, 10);
  return `w-${short}-${String(raw).replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 40)}`;
}

export function loadWafrisRules(db: Db, path: string): RuleSet & { skipped: number } {
  let read: WafrisRulesRead;
  try {
    read = readWafrisRules(db);
  } catch (e) {
    if (e instanceof MoatFileError || !(e instanceof MoatError)) throw e;
    throw new MoatFileError(errorCodeOf(e, 'MOAT_ERR_FILE_CORRUPT'), path, `unusable Wafris rules file: ${e.message}`, { cause: e });
  }
  const { rules, skipped } = read;
  // Wafris blocks reputation ranges with no rule; the same behaviour comes from an implicit list rule.
  rules.push(normalizeRule({ action: 'block', kind: 'list', value: WAFRIS_REPUTATION_LIST, id: 'w-reputation' }));
  const hash = createHash('sha256').update(JSON.stringify(rules)).digest('hex');
  const set = buildRuleSet(rules, { path, format: 'wafris', formatVersion: 2, builtAt: null, hash });
  return Object.assign(set, { skipped });
}

export function loadWafrisData(db: Db, path: string): DataSet & { skipped: number } {
  const have = tables(db);
  let skipped = 0;
  const countries: { range: IpRange; country: string | null }[] = [];
  if (have.has('country_ip_ranges')) {
    const { ranges, invalid } = readMemberRanges(db, 'country_ip_ranges', startsOneBelow(db, have));
    skipped += invalid;
    for (const { range, suffix } of ranges) countries.push({ range, country: countryOfMemberSuffix(suffix) });
  }
  const reputation: IpRange[] = [];
  if (have.has('reputation_ip_ranges')) {
    const { ranges, invalid } = readMemberRanges(db, 'reputation_ip_ranges', startsOneBelow(db, have));
    skipped += invalid;
    for (const { range } of ranges) reputation.push(range);
  }
  const summary = (name: string, kind: 'country' | 'list', n: number) => ({ name, kind, ranges: n, invalidLines: 0 });
  const compiled = compileData({
    countries: { rows: countries, summary: summary('country', 'country', countries.length) },
    lists: [{ name: WAFRIS_REPUTATION_LIST, ranges: reputation, summary: summary(WAFRIS_REPUTATION_LIST, 'list', reputation.length) }],
  });
  db.close();
  const hash = dataContentHash(compiled.table, compiled.labels);
  return {
    info: { path, format: 'wafris', formatVersion: 2, builtAt: null, hash },
    table: compiled.table, labels: compiled.labels, listNames: [WAFRIS_REPUTATION_LIST], close: () => {}, skipped,
  };
}

