// Shared test kit for the engine, rules/data files, Wafris and CLI tests: temp directories holding real
// SQLite files, rule shorthands, a naive IP-rule oracle (bigint scans over every rule) and the Wafris v2
// range lookup written from its documented description (docs/wafris-v2.md), never its code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Database as Db } from 'better-sqlite3';
import { Engine, normalizeRule, writeRulesFile } from '../../src/index.js';
import { buildDataFile } from '../../src/data/index.js';
import { parseRange, IPV4_MAPPED_FIRST } from '../../src/ip/index.js';
import type { EngineParts, Rule, RuleInput } from '../../src/index.js';
import type { IpRange } from '../../src/ip/index.js';

// ---------- temp directories ----------

export function makeTmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'moat-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs `fn` with a fresh temp directory that is removed afterwards, whatever happens. */
export async function withTmpDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = makeTmpDir();
  try {
    return await fn(dir);
  } finally {
    removeDir(dir);
  }
}

// ---------- rules ----------

/** A block rule of `kind` (normalised as an author's entry would be). */
export function block(kind: RuleInput['kind'], value: string, extra: Partial<RuleInput> = {}): Rule {
  return normalizeRule({ action: 'block', kind, value, ...extra });
}

/** An allow IP rule. */
export function allow(value: string, extra: Partial<RuleInput> = {}): Rule {
  return normalizeRule({ action: 'allow', kind: 'ip', value, ...extra });
}

export function rateLimit(path: string, limit: number, window: string | number, extra: Partial<RuleInput> & { method?: string } = {}): Rule {
  const { method, ...rest } = extra;
  return normalizeRule({ action: 'block', kind: 'rateLimit', value: path, ...rest, rateLimit: { path, limit, window, method } });
}

let engineFileCounter = 0;

/** Compiles `rules` into a real rules file in `dir` and opens an engine on it (and on `data`, if given). */
export function engineFor(
  dir: string,
  rules: readonly Rule[],
  opts: { data?: string; dataMode?: 'memory' | 'light' } & Omit<EngineParts, 'rules' | 'data'> = {},
): Engine {
  const file = path.join(dir, `rules-${process.pid}-${engineFileCounter++}.db`);
  writeRulesFile(rules, file);
  return Engine.open({ ...opts, rules: file });
}

// ---------- addresses ----------

export const V4_MAX = (1n << 32n) - 1n;
export const V6_MAX = (1n << 128n) - 1n;
export const MAPPED_FIRST = IPV4_MAPPED_FIRST;

/** An address as Moat classifies it: IPv4-mapped IPv6 is family 4. */
export interface Addr {
  family: 4 | 6;
  value: bigint;
}

export function v4Text(value: bigint): string {
  const n = Number(value);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function v4Value(text: string): bigint {
  const p = text.split('.').map(Number);
  return BigInt(((p[0] * 256 + p[1]) * 256 + p[2]) * 256 + p[3]);
}

/** IPv6 fully expanded, 8 groups of 4 hex digits (a form no canonicaliser produces, so it tests parsing). */
export function v6Expanded(value: bigint, upper = false): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16).padStart(4, '0'));
  const s = groups.join(':');
  return upper ? s.toUpperCase() : s;
}

/** IPv6 as 8 groups without leading zeros, no "::". */
export function v6Plain(value: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

/** Text of an address in a form chosen by `form` (0..3), all meaning the same address. */
export function addrText(a: Addr, form = 0): string {
  if (a.family === 4) {
    switch (form % 3) {
      case 0: return v4Text(a.value);
      case 1: return `::ffff:${v4Text(a.value)}`;
      default: return v6Expanded(MAPPED_FIRST + a.value, true);
    }
  }
  switch (form % 4) {
    case 0: return v6Expanded(a.value);
    case 1: return v6Expanded(a.value, true);
    case 2: return v6Plain(a.value);
    default: return `${v6Plain(a.value)}%eth0`;
  }
}

/** Does `range` (a rule's parsed range; IPv6 ranges may hold mapped IPv4) contain the address? */
export function rangeCovers(range: IpRange, a: Addr): boolean {
  if (range.family === a.family) return range.start <= a.value && a.value <= range.end;
  if (range.family === 6 && a.family === 4) {
    const v = MAPPED_FIRST + a.value;
    return range.start <= v && v <= range.end;
  }
  return false;
}

/** The addresses next to a range's bounds, in the range's own family (IPv4 ranges stay IPv4). */
export function boundaryAddrs(range: IpRange): Addr[] {
  const max = range.family === 4 ? V4_MAX : V6_MAX;
  const out: Addr[] = [];
  for (const v of [range.start, range.end, range.start - 1n, range.end + 1n]) {
    if (v < 0n || v > max) continue;
    out.push(classify(range.family, v));
  }
  return out;
}

/** An IPv6 value inside ::ffff:0:0/96 is the IPv4 address it carries. */
export function classify(family: 4 | 6, value: bigint): Addr {
  if (family === 6 && value >= MAPPED_FIRST && value <= MAPPED_FIRST + V4_MAX) return { family: 4, value: value - MAPPED_FIRST };
  return { family, value };
}

// ---------- the naive oracle for IP rules ----------

export interface ExpectedDecision {
  treatment: 'Allowed' | 'Blocked' | 'Passed';
  category: string;
  ruleId: string | null;
  monitored: { category: string; ruleId: string }[];
}

/**
 * The documented semantics of IP rules, by brute force: allow rules are consulted before block rules;
 * within one action the covering rules are taken most specific (smallest range) first, ties by id
 * (the order of rules in the file); expired rules are ignored; monitor rules met on the way are
 * reported and skipped; the first live block-mode rule decides. Category: ai/bi for a single address,
 * ac/bc for a range.
 */
export function oracleIp(rules: readonly Rule[], a: Addr, now: number): ExpectedDecision {
  const monitored: { category: string; ruleId: string }[] = [];
  for (const action of ['allow', 'block'] as const) {
    const covering = rules
      .filter((r) => r.kind === 'ip' && r.action === action && !(r.expires !== undefined && r.expires <= now))
      .map((r) => ({ r, range: parseRange(r.value) }))
      .filter(({ range }) => rangeCovers(range, a))
      .sort((x, y) => {
        const sx = x.range.end - x.range.start;
        const sy = y.range.end - y.range.start;
        if (sx !== sy) return sx < sy ? -1 : 1;
        return x.r.id < y.r.id ? -1 : x.r.id > y.r.id ? 1 : 0;
      });
    for (const { r, range } of covering) {
      const single = range.start === range.end;
      const category = action === 'allow' ? (single ? 'ai' : 'ac') : single ? 'bi' : 'bc';
      if (r.mode === 'monitor') {
        monitored.push({ category, ruleId: r.id });
        continue;
      }
      return { treatment: action === 'allow' ? 'Allowed' : 'Blocked', category, ruleId: r.id, monitored };
    }
  }
  return { treatment: 'Passed', category: 'passed', ruleId: null, monitored };
}

// ---------- the Wafris v2 range encoding and lookup, as documented ----------

/** An address as its integer value (IPv4 in the low 32 bits), decimal, zero-padded to 39 digits. */
export function wafris39(value: bigint): string {
  return value.toString().padStart(39, '0');
}

/** The value Wafris looks up for an address: IPv4 as a 32-bit number, IPv6 as 128 bits. */
export function wafrisValue(a: Addr): bigint {
  return a.value;
}

/**
 * The documented Wafris lookup: the nearest member >= the address text and the nearest member below
 * it; a hit when the text after the last `-` is the same in both. Returns that suffix, or null.
 */
export function wafrisLookup(db: Db, table: string, value: bigint): string | null {
  const key = wafris39(value);
  const above = db.prepare(`SELECT member FROM "${table}" WHERE member >= ? ORDER BY member LIMIT 1`).pluck().get(key) as string | undefined;
  const below = db.prepare(`SELECT member FROM "${table}" WHERE member < ? ORDER BY member DESC LIMIT 1`).pluck().get(key) as string | undefined;
  if (above === undefined || below === undefined) return null;
  const suffix = (m: string) => m.slice(m.lastIndexOf('-') + 1);
  return suffix(above) === suffix(below) ? suffix(above) : null;
}

/** Creates the custom_rules tables exactly as the Wafris client reads them (docs/wafris-v2.md). */
export function createWafrisRulesSchema(db: Db): void {
  for (const t of ['allowed_ips', 'blocked_ips', 'blocked_user_agents', 'blocked_paths', 'blocked_parameters', 'blocked_hosts', 'blocked_methods']) {
    db.exec(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, entries TEXT, rule_id INTEGER)`);
    db.exec(`CREATE INDEX ${t}_entries ON ${t} (entries)`);
  }
  db.exec('CREATE TABLE blocked_country_codes (id INTEGER PRIMARY KEY, entries TEXT)');
  db.exec('CREATE TABLE blocked_rate_limits (id INTEGER PRIMARY KEY, path TEXT, method TEXT, interval INTEGER, max_count INTEGER, rule_id INTEGER)');
  db.exec('CREATE TABLE blocked_threats (id INTEGER PRIMARY KEY, entries TEXT)');
  for (const t of ['allowed_cidr_ranges', 'blocked_cidr_ranges']) {
    db.exec(`CREATE TABLE ${t} (member TEXT)`);
    db.exec(`CREATE INDEX ${t}_member ON ${t} (member)`);
  }
}

/** Inserts one range the way the Wafris hub documents it: `<start39>-<id>` and `<end39>-<id>`. */
export function insertWafrisRange(db: Db, table: string, start: bigint, end: bigint, suffix: string): void {
  const ins = db.prepare(`INSERT INTO "${table}" (member) VALUES (?)`);
  ins.run(`${wafris39(start)}-${suffix}`);
  ins.run(`${wafris39(end)}-${suffix}`);
}

/** Text not a stack trace: no "    at " frame lines. */
export function assertNoStack(text: string): void {
  if (/\n\s+at /.test(`\n${text}`)) throw new Error(`output holds a stack trace:\n${text}`);
}

// ---------- data files ----------

/**
 * Builds a real Moat data file from shorthand: countries as `[range text, code]`, ASNs as `[range text, 'AS1']`,
 * lists as `name → range texts`.
 */
export function dataFileFor(
  file: string,
  input: { countries?: [string, string][]; asns?: [string, string][]; lists?: Record<string, string[]> },
): string {
  const summary = (name: string, kind: 'country' | 'asn' | 'list', ranges: number) => ({ name, kind, ranges, invalidLines: 0 });
  const countries = (input.countries ?? []).map(([r, country]) => ({ range: parseRange(r), country }));
  const asns = (input.asns ?? []).map(([r, asn]) => ({ range: parseRange(r), asn }));
  buildDataFile(
    {
      countries: { rows: countries, summary: summary('country', 'country', countries.length) },
      asns: { rows: asns, summary: summary('asn', 'asn', asns.length) },
      lists: Object.entries(input.lists ?? {}).map(([name, ranges]) => ({
        name, ranges: ranges.map((r) => parseRange(r)), summary: summary(name, 'list', ranges.length),
      })),
    },
    file,
  );
  return file;
}
