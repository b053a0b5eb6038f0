/**
 * Exports Moat rules as a Wafris v2 custom_rules file that the Wafris client reads correctly.
 * Its range lookup misses the first address of every range (the start member sorts after the bare
 * address), so each range is written with its start member one below the real start, and ranges are
 * merged first so no two touch: then every address of every range hits, and no address outside does.
 * IPv4 ranges are also written as their IPv4-mapped IPv6 range, which the Wafris lookup otherwise misses.
 * What Wafris cannot express is left out and reported: monitor-mode and expired rules, list and ASN
 * rules, prefix rate limits.
 */
import { createHash } from 'node:crypto';
import { formatIp } from '../ip/address.js';
import { parseRange, splitByFamily } from '../ip/range.js';
import type { IpRange } from '../ip/range.js';
import { CONTINENT_OF } from '../rules/continents.js';
import type { Rule } from '../rules/types.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { MOAT_EXPORT_TABLE, encode39 } from './encoding.js';
import { IPV4_MAPPED_FIRST } from '../ip/mapped.js';

export interface WrittenWafrisFile {
  path: string;
  hash: string;
  /** Rules Wafris cannot express, with the reason. */
  skipped: { id: string; reason: string }[];
}

const ENTRY_TABLES = [
  'allowed_ips', 'blocked_ips', 'blocked_user_agents', 'blocked_paths', 'blocked_parameters', 'blocked_hosts', 'blocked_methods',
];

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

function numericId(rule: Rule, index: number): number {
  return /^\d{1,15}$/.test(rule.id) ? Number(rule.id) : index + 1;
}

export function writeWafrisRulesFile(rules: readonly Rule[], outPath: string, now = Date.now()): WrittenWafrisFile {
  const skipped: { id: string; reason: string }[] = [];
  const live = rules.filter((r) => {
    if (r.mode === 'monitor') skipped.push({ id: r.id, reason: 'Wafris has no monitor mode' });
    else if (r.expires !== undefined && r.expires <= now) skipped.push({ id: r.id, reason: 'expired' });
    else if (r.kind === 'list' || r.kind === 'asn') skipped.push({ id: r.id, reason: `Wafris has no ${r.kind} rules` });
    else if (r.kind === 'rateLimit' && r.rateLimit?.match === 'prefix') skipped.push({ id: r.id, reason: 'Wafris rate limits match exact paths only' });
    else return true;
    return false;
  });
  const h = createHash('sha256');
  writeSqliteAtomically(outPath, (db) => {
    for (const t of ENTRY_TABLES) {
      db.exec(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, entries TEXT, rule_id INTEGER)`);
      db.exec(`CREATE INDEX ${t}_entries ON ${t} (entries)`);
    }
    db.exec('CREATE TABLE blocked_country_codes (id INTEGER PRIMARY KEY, entries TEXT)');
    db.exec('CREATE INDEX blocked_country_codes_entries ON blocked_country_codes (entries)');
    db.exec('CREATE TABLE blocked_rate_limits (id INTEGER PRIMARY KEY, path TEXT, method TEXT, interval INTEGER, max_count INTEGER, rule_id INTEGER)');
    db.exec('CREATE TABLE blocked_threats (id INTEGER PRIMARY KEY, entries TEXT)');
    db.exec(`CREATE TABLE ${MOAT_EXPORT_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    db.prepare(`INSERT INTO ${MOAT_EXPORT_TABLE} (key, value) VALUES ('writer', 'moat'), ('range_starts', 'one_below')`).run();
    for (const t of ['allowed_cidr_ranges', 'blocked_cidr_ranges']) {
      db.exec(`CREATE TABLE ${t} (member TEXT)`);
      db.exec(`CREATE INDEX ${t}_member ON ${t} (member)`);
    }
    const put = (table: string, entry: string, ruleId: number) => {
      db.prepare(`INSERT INTO ${table} (entries, rule_id) VALUES (?, ?)`).run(entry, ruleId);
      h.update(`${table}|${entry}|${ruleId}\n`);
    };
    const simple: Record<string, string> = {
      userAgent: 'blocked_user_agents', path: 'blocked_paths', param: 'blocked_parameters', host: 'blocked_hosts', method: 'blocked_methods',
    };
    const ipRanges: Record<'allow' | 'block', IpRange[]> = { allow: [], block: [] };
    const countries = new Set<string>();
    live.forEach((r, i) => {
      const id = numericId(r, i);
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
        if (r.value.startsWith('continent:')) {
          const c = r.value.slice('continent:'.length);
          for (const [cc, cont] of CONTINENT_OF) if (cont === c) countries.add(cc);
        } else countries.add(r.value);
      } else if (r.kind === 'rateLimit' && r.rateLimit) {
        const rl = r.rateLimit;
        db.prepare('INSERT INTO blocked_rate_limits (path, method, interval, max_count, rule_id) VALUES (?, ?, ?, ?, ?)')
          .run(rl.path, rl.method ?? 'GET', Math.max(1, Math.round(rl.windowMs / 1000)), rl.limit, id);
        h.update(`rl|${rl.path}|${rl.method}|${rl.windowMs}|${rl.limit}|${id}\n`);
      } else if (simple[r.kind]) put(simple[r.kind], r.value, id);
    });
    for (const cc of [...countries].sort()) {
      db.prepare('INSERT INTO blocked_country_codes (entries) VALUES (?)').run(cc);
      h.update(`cc|${cc}\n`);
    }
    for (const action of ['allow', 'block'] as const) {
      const table = action === 'allow' ? 'allowed_cidr_ranges' : 'blocked_cidr_ranges';
      const ins = db.prepare(`INSERT INTO ${table} (member) VALUES (?)`);
      mergeRanges(ipRanges[action]).forEach((r, n) => {
        // IPv6 values below 2^32 would read back as IPv4 in this encoding; they are obsolete IPv4-compatible forms.
        const start = r.family === 6 && r.start < 1n << 32n ? 1n << 32n : r.start;
        if (start > r.end) return;
        const suffix = String(n + 1);
        const startMember = start > 0n ? start - 1n : start;
        ins.run(`${encode39(startMember)}-${suffix}`);
        ins.run(`${encode39(r.end)}-${suffix}`);
        h.update(`${table}|${startMember}|${r.end}\n`);
      });
    }
  });
  return { path: outPath, hash: h.digest('hex'), skipped };
}
