/** Compiles rules into a Moat rules file (docs/format.md). Same rules in any order → same content hash. */
import { createHash } from 'node:crypto';
import type { Database as Db } from 'better-sqlite3';
import type { Rule } from '../rules/types.js';
import { formatRateLimitKey } from '../rules/rate-limit-key.js';
import { attackHeadersJson, attackSettingsJson, type AttackSettings } from '../rules/attack-settings.js';
import { botSettingsFromJson, botSettingsJson, type BotSettings } from '../rules/bot-settings.js';
import { normalizeReportKeys } from '../rules/key-ban.js';
import type { RateLimitKey } from '../rules/types.js';
import { RuleError } from '../rules/rule-error.js';
import { unsafeRuleProblems } from '../rules/rule-safety.js';
import { flattenIpRules, ipIndexFromFlat, sortRules } from '../engine/rule-set.js';
import { RangeTable } from '../ranges/range-table.js';
import { writeSqliteAtomically } from './atomic-file.js';
import { storeRangeTable } from './packed-ranges.js';
import { insertMeta, LABEL_SETS_DDL, META_DDL, PACKED_DDL, RANGES_DDL, RULES_DDL, RULES_FORMAT, RULES_FORMAT_VERSION } from './schema.js';

export interface WrittenRulesFile {
  path: string;
  hash: string;
  formatVersion: number;
  builtAt: string;
  counts: Record<string, number>;
}

/** The format version a rule list needs: 3 with a keyed ban, 2 with a keyed rate limit, else 1 (schema.ts). */
export function rulesFormatVersion(rules: readonly Rule[]): number {
  if (rules.some((r) => r.kind === 'key')) return 3;
  return rules.some((r) => r.rateLimit?.key !== undefined) ? 2 : 1;
}

/** The content hash: the canonical rule list and the format version it needs, nothing time-dependent. */
export function rulesContentHash(sorted: readonly Rule[]): string {
  const h = createHash('sha256');
  h.update(`${RULES_FORMAT}/${rulesFormatVersion(sorted)}\n`);
  for (const r of sorted) {
    h.update(JSON.stringify([r.id, r.action, r.kind, r.value, r.note ?? null, r.mode, r.expires ?? null, r.rateLimit ?? null]));
    h.update('\n');
  }
  return h.digest('hex');
}

/**
 * The file's identity: the content hash, or with attack settings a hash of both. The settings are
 * kept out of `content_hash` itself so that readers from before them still verify and load the file
 * (ignoring the settings) instead of refusing every new version.
 */
export function rulesFileHash(contentHash: string, attacks: AttackSettings | null): string {
  if (attacks === null) return contentHash;
  return createHash('sha256').update(`${contentHash}\nattacks ${attackSettingsJson(attacks)}\n`).digest('hex');
}

/**
 * The file's identity with bot settings too: a hash of the identity older readers compute (above) and the
 * settings with their catalogue. Kept apart the same way, so readers from before bots load the file.
 */
export function botsFileHash(baseHash: string, bots: BotSettings | null): string {
  if (bots === null) return baseHash;
  return createHash('sha256').update(`${baseHash}\nbots ${botSettingsJson(bots)}\n`).digest('hex');
}

/** The `report_keys` meta row: the key texts as a JSON array. */
export function reportKeysJson(keys: readonly RateLimitKey[]): string {
  return JSON.stringify(keys.map(formatRateLimitKey));
}

/**
 * The file's identity with report keys too (the hub's keyed threshold rules), chained the same way as
 * the bot settings: readers from before them load the file and report no keys.
 */
export function reportKeysFileHash(baseHash: string, keys: readonly RateLimitKey[]): string {
  if (keys.length === 0) return baseHash;
  return createHash('sha256').update(`${baseHash}\nreport_keys ${reportKeysJson(keys)}\n`).digest('hex');
}

/**
 * The file's identity with the attack settings' extra headers too, chained after the report keys the
 * same way: readers from before them load the file and judge only the headers they always judged.
 */
export function attackHeadersFileHash(baseHash: string, attacks: AttackSettings | null): string {
  if (attacks === null || attacks.headers.length === 0) return baseHash;
  return createHash('sha256').update(`${baseHash}\nattack_headers ${attackHeadersJson(attacks)}\n`).digest('hex');
}

/**
 * A checksum of the compiled IP indexes (packed arrays and label sets). The content hash covers the rules;
 * this covers what was compiled from them, so a flipped byte in a range blob is refused at load instead
 * of silently moving a range boundary.
 */
export function ipIndexHash(indexes: readonly { table: RangeTable; sets: readonly (readonly number[])[] }[]): string {
  const h = createHash('sha256');
  for (const { table, sets } of indexes) {
    const a = table.arrays;
    for (const arr of [a.v4Starts, a.v4Ends, a.v4Labels, a.v6Starts, a.v6Ends, a.v6Labels]) {
      h.update(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
      h.update('|');
    }
    h.update(JSON.stringify(sets));
    h.update('\n');
  }
  return h.digest('hex');
}

export function countRules(rules: readonly Rule[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of rules) {
    const k = r.kind === 'ip' ? `${r.action}:ip` : r.kind;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/**
 * Compiles `rules` into a file at `outPath`, atomically. Rules that would refuse every request or that
 * the rate limiter cannot honour (rules/rule-safety.ts) are refused with one RuleError naming each by id:
 * rules made without normalizeRule (by hand, from a store) get the same checks as documents.
 */
export function writeRulesFile(
  rules: readonly Rule[], outPath: string,
  opts: { builtAt?: Date; attacks?: AttackSettings | null; bots?: BotSettings | null; reportKeys?: readonly RateLimitKey[] } = {},
): WrittenRulesFile {
  const unsafe = rules.flatMap((r) => unsafeRuleProblems(r).map((p) => `rule ${JSON.stringify(r.id)}: ${p}`));
  if (unsafe.length > 0) throw new RuleError(unsafe);
  const sorted = sortRules(rules);
  const ids = new Set<string>();
  for (const r of sorted) {
    if (ids.has(r.id)) throw new RuleError(`two rules share the id ${JSON.stringify(r.id)}`);
    ids.add(r.id);
  }
  const attacks = opts.attacks ?? null;
  const contentHash = rulesContentHash(sorted);
  const baseHash = rulesFileHash(contentHash, attacks);
  // Through the file's own reading, so the hash written is the hash every reader computes.
  const bots = opts.bots ? botSettingsFromJson(botSettingsJson(opts.bots)) : null;
  const botsHash = botsFileHash(baseHash, bots);
  // Canonical (sorted, unique, at most MAX_REPORT_KEYS), so equal key sets give equal files.
  const reportKeys = normalizeReportKeys((opts.reportKeys ?? []).map(formatRateLimitKey));
  const reportKeysHash = reportKeysFileHash(botsHash, reportKeys);
  const hash = attackHeadersFileHash(reportKeysHash, attacks);
  const builtAt = (opts.builtAt ?? new Date()).toISOString();
  const counts = countRules(sorted);
  const formatVersion = rulesFormatVersion(sorted);
  writeSqliteAtomically(outPath, (db) => {
    for (const ddl of [META_DDL, RULES_DDL, RANGES_DDL, PACKED_DDL, LABEL_SETS_DDL]) db.exec(ddl);
    insertMeta(db, { format: RULES_FORMAT, format_version: formatVersion, built_at: builtAt, content_hash: contentHash, rule_count: sorted.length });
    insertRules(db, sorted);
    // A meta row, not a table: older readers ignore unknown meta keys, and a file without it reads as "attacks off".
    if (attacks !== null) insertMeta(db, { attacks: attackSettingsJson(attacks), attacks_hash: baseHash });
    // Bot settings the same way; `bots_hash` is the file's identity.
    if (bots !== null) insertMeta(db, { bots: botSettingsJson(bots), bots_hash: botsHash });
    // The keys clients report with each request; `report_keys_hash` is then the file's identity.
    if (reportKeys.length > 0) insertMeta(db, { report_keys: reportKeysJson(reportKeys), report_keys_hash: reportKeysHash });
    // More headers for attack detection to judge; `attack_headers_hash` is then the file's identity.
    if (attacks !== null && attacks.headers.length > 0) insertMeta(db, { attack_headers: attackHeadersJson(attacks), attack_headers_hash: hash });
    const indexes = (['allow', 'block'] as const).map((action) => {
      const index = ipIndexFromFlat(flattenIpRules(sorted, action), sorted);
      storeRangeTable(db, action, index.table as RangeTable);
      const ls = db.prepare('INSERT INTO label_sets (set_name, id, members) VALUES (?, ?, ?)');
      index.sets.forEach((members, id) => ls.run(action, id, JSON.stringify(members)));
      return { table: index.table as RangeTable, sets: index.sets };
    });
    insertMeta(db, { ranges_hash: ipIndexHash(indexes) });
  });
  return { path: outPath, hash, formatVersion, builtAt, counts };
}

function insertRules(db: Db, sorted: readonly Rule[]): void {
  const ins = db.prepare(`INSERT INTO rules (seq, id, action, kind, value, note, mode, expires, rl_method, rl_path, rl_match, rl_limit, rl_window_ms, rl_key)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  sorted.forEach((r, seq) => {
    const rl = r.rateLimit;
    ins.run(seq, r.id, r.action, r.kind, r.value, r.note ?? null, r.mode, r.expires ?? null,
      rl?.method ?? null, rl?.path ?? null, rl?.match ?? null, rl?.limit ?? null, rl?.windowMs ?? null,
      rl?.key === undefined ? null : formatRateLimitKey(rl.key));
  });
}
