/**
 * Exports Moat rules as a Wafris v2 custom_rules file that the unmodified Wafris gem reads correctly.
 * Its range lookup misses the first address of every range (the start member sorts after the bare
 * address), so each range is written with its start member one below the real start, and ranges are
 * merged first so no two touch: then every address of every range hits, and no address outside does.
 * IPv4 ranges are also written as their IPv4-mapped IPv6 range, which the Wafris lookup otherwise misses.
 * Entries, countries and rate limits are written in the forms the gem compares (rule-rows.ts).
 * What Wafris cannot express is left out and reported: monitor-mode and expired rules, list and ASN
 * rules, prefix rate limits, a country rule for ZZ.
 */
import { createHash } from 'node:crypto';
import { formatIp, IPV4_MAPPED_FIRST } from '../ip/address.js';
import { parseRange, splitByFamily } from '../ip/range.js';
import type { IpRange } from '../ip/range.js';
import type { Rule } from '../rules/types.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { countRules } from '../format/write-rules.js';
import { MOAT_EXPORT_TABLE, encode39 } from './encoding.js';
import { wafrisCountryToken } from './country-token.js';
import { WAFRIS_ENTRY_TABLES, countriesOf, wafrisEntryRows, wafrisRateLimitRows, wafrisRuleNumber } from './rule-rows.js';

export interface WrittenWafrisFile {
  path: string;
  hash: string;
  /** Rules Wafris cannot express, with the reason. */
  skipped: { id: string; reason: string }[];
}

/** Union of ranges, merged where they overlap or touch, sorted. */
export function mergeRanges(ranges: IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) => (a.family !== b.family ? a.family - b.family : a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { family: 4 | 6; start: bigint; end: bigint }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === r.family && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ family: r.family, start: r.start, end: r.end });
  }
  return out;
}

export function writeWafrisRulesFile(rules: readonly Rule[], outPath: string, now = Date.now()): WrittenWafrisFile {
  const skipped: { id: string; reason: string }[] = [];
  const live = rules.filter((r) => {
    if (r.mode === 'monitor') skipped.push({ id: r.id, reason: 'Wafris has no monitor mode' });
    else if (r.expires !== undefined && r.expires <= now) skipped.push({ id: r.id, reason: 'expired' });
    else if (r.kind === 'list' || r.kind === 'asn') skipped.push({ id: r.id, reason: `Wafris has no ${r.kind} rules` });
    else if (r.kind === 'key') skipped.push({ id: r.id, reason: 'Wafris cannot ban by a header, cookie or user (keyed bans are Moat only)' });
    else if (r.kind === 'rateLimit' && r.rateLimit.match === 'prefix') skipped.push({ id: r.id, reason: 'Wafris rate limits match exact paths only' });
    // Counting a header, cookie or user limit per IP would put every client behind one NAT in one budget.
    else if (r.kind === 'rateLimit' && r.rateLimit.key !== undefined) skipped.push({ id: r.id, reason: 'Wafris counts rate limits per IP only' });
    // Moat refuses ZZ, but an older store may hold it; the gem reads ZZ as "no country known" and would
    // block every client its data does not place, private addresses included.
    else if (r.kind === 'country' && r.value === 'ZZ') skipped.push({ id: r.id, reason: 'ZZ is the Wafris "unknown country"' });
    else return true;
    return false;
  });
  const h = createHash('sha256');
  writeSqliteAtomically(outPath, (db) => {
    for (const t of WAFRIS_ENTRY_TABLES) {
      db.exec(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, entries TEXT, rule_id INTEGER)`);
      db.exec(`CREATE INDEX ${t}_entries ON ${t} (entries)`);
    }
    db.exec('CREATE TABLE blocked_country_codes (id INTEGER PRIMARY KEY, entries TEXT)');
    db.exec('CREATE INDEX blocked_country_codes_entries ON blocked_country_codes (entries)');
    db.exec('CREATE TABLE blocked_rate_limits (id INTEGER PRIMARY KEY, path TEXT, method TEXT, interval INTEGER, max_count INTEGER, rule_id INTEGER)');
    db.exec('CREATE TABLE blocked_threats (id INTEGER PRIMARY KEY, entries TEXT)');
    db.exec(`CREATE TABLE ${MOAT_EXPORT_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    // The rules exported, by kind: the rows below hold more (case and encoding forms, mapped copies, merged
    // ranges), so `moat-waf inspect` reports these to agree with the export.
    db.prepare(`INSERT INTO ${MOAT_EXPORT_TABLE} (key, value) VALUES ('writer', 'moat'), ('range_starts', 'one_below'), ('rules', ?), ('counts', ?)`)
      .run(String(live.length), JSON.stringify(countRules(live)));
    for (const t of ['allowed_cidr_ranges', 'blocked_cidr_ranges']) {
      db.exec(`CREATE TABLE ${t} (member TEXT)`);
      db.exec(`CREATE INDEX ${t}_member ON ${t} (member)`);
    }
    const put = (table: string, entry: string, ruleId: number) => {
      db.prepare(`INSERT INTO ${table} (entries, rule_id) VALUES (?, ?)`).run(entry, ruleId);
      h.update(`${table}|${entry}|${ruleId}\n`);
    };
    const ipRanges: Record<'allow' | 'block', IpRange[]> = { allow: [], block: [] };
    const countries = new Set<string>();
    const rateLimit = db.prepare('INSERT INTO blocked_rate_limits (path, method, interval, max_count, rule_id) VALUES (?, ?, ?, ?, ?)');
    for (const r of live) {
      const id = wafrisRuleNumber(r.id);
      if (r.kind === 'ip') {
        const range = parseRange(r.value);
        // Exact-string tables get the canonical text; the range table below catches every other form.
        if (range.start === range.end) put(r.action === 'allow' ? 'allowed_ips' : 'blocked_ips', formatIp({ family: range.family, value: range.start }), id);
        for (const part of splitByFamily(range)) {
          ipRanges[r.action].push(part);
          // Wafris clients look up ::ffff:a.b.c.d as its 128-bit value; the mapped copy makes them match too.
          if (part.family === 4) ipRanges[r.action].push({ family: 6, start: IPV4_MAPPED_FIRST + part.start, end: IPV4_MAPPED_FIRST + part.end });
        }
      } else if (r.kind === 'country') {
        for (const cc of countriesOf(r)) countries.add(wafrisCountryToken(cc));
      } else if (r.kind === 'rateLimit') {
        for (const row of wafrisRateLimitRows(r)) {
          rateLimit.run(row.path, row.method, row.interval, row.maxCount, id);
          h.update(`rl|${row.path}|${row.method}|${row.interval}|${row.maxCount}|${id}\n`);
        }
      } else for (const row of wafrisEntryRows(r)) put(row.table, row.entry, id);
    }
    for (const token of [...countries].sort()) {
      db.prepare('INSERT INTO blocked_country_codes (entries) VALUES (?)').run(token);
      h.update(`cc|${token}\n`);
    }
    for (const action of ['allow', 'block'] as const) {
      const table = action === 'allow' ? 'allowed_cidr_ranges' : 'blocked_cidr_ranges';
      const ins = db.prepare(`INSERT INTO ${table} (member) VALUES (?)`);
      const merged = mergeRanges(ipRanges[action]);
      const width = String(merged.length).length;
      merged.forEach((r, n) => {
        // IPv6 values below 2^32 would read back as IPv4 in this encoding; they are obsolete IPv4-compatible forms.
        const start = r.family === 6 && r.start < 1n << 32n ? 1n << 32n : r.start;
        if (start > r.end) return;
        // Padded, so that where an IPv4 range ending at 255.255.255.255 meets IPv6 from 2^32 (the one place
        // merged ranges still touch) the two members sharing a number sort in address order.
        const suffix = String(n + 1).padStart(width, '0');
        const startMember = start > 0n ? start - 1n : start;
        ins.run(`${encode39(startMember)}-${suffix}`);
        ins.run(`${encode39(r.end)}-${suffix}`);
        h.update(`${table}|${startMember}|${r.end}\n`);
      });
    }
  });
  return { path: outPath, hash: h.digest('hex'), skipped };
}
