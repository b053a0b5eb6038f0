import type Database from 'better-sqlite3';
import { ruleIpBounds } from '../rule-lookup.js';
import { RULE_COLUMNS, type RuleColumns } from './rule-columns.js';

/**
 * The statements of SqliteStore.rulesFor, each answering rule ids. Arrays travel as JSON (json_each).
 * Substring rules are compared inside SQLite: lower() folds ASCII only, so a value holding anything else
 * is always a candidate (the page folds and compares it itself); an ASCII value folds the same either way.
 */
/** The prepared statements of rulesFor, named so the declaration emit can name their type. */
export interface SqliteRuleLookups {
  ipHolding: Database.Statement<[number, string, string], string>;
  ipUnbounded: Database.Statement<[number], string>;
  valueIn: Database.Statement<[number, string, string], string>;
  within: Database.Statement<[number, string, string], string>;
  idIn: Database.Statement<[number, string], string>;
  rows: Database.Statement<[number, string], RuleColumns>;
}

export function sqliteRuleLookups(db: Database.Database): SqliteRuleLookups {
  return {
    // The index rules_ip_range: the ranges starting at or below the address, their ends read from the index.
    ipHolding: db.prepare<[number, string, string], string>(
      "SELECT id FROM rules WHERE site_id = ? AND kind = 'ip' AND ip_lo <= ? AND ip_hi >= ?").pluck(),
    // IP rules whose value the hub could not read as a range: never skipped unseen.
    ipUnbounded: db.prepare<[number], string>("SELECT id FROM rules WHERE site_id = ? AND kind = 'ip' AND ip_lo IS NULL").pluck(),
    valueIn: db.prepare<[number, string, string], string>(
      'SELECT id FROM rules WHERE site_id = ? AND kind = ? AND value IN (SELECT value FROM json_each(?))').pluck(),
    within: db.prepare<[number, string, string], string>(
      "SELECT id FROM rules WHERE site_id = ? AND kind = ? AND (instr(?, lower(value)) > 0 OR value GLOB '*[^ -~]*')").pluck(),
    idIn: db.prepare<[number, string], string>('SELECT id FROM rules WHERE site_id = ? AND id IN (SELECT value FROM json_each(?))').pluck(),
    rows: db.prepare<[number, string], RuleColumns>(
      `SELECT ${RULE_COLUMNS} FROM rules WHERE site_id = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY position, id`).raw(),
  };
}

/** Gives IP rules stored before schema version 21 their range keys (at open; once, in one transaction). */
export function fillRuleIpBounds(db: Database.Database): number {
  const rows = db.prepare<[], { site_id: number; id: string; value: string }>(
    "SELECT site_id, id, value FROM rules WHERE kind = 'ip' AND ip_lo IS NULL").all();
  const put = db.prepare('UPDATE rules SET ip_lo = ?, ip_hi = ? WHERE site_id = ? AND id = ?');
  let filled = 0;
  db.transaction(() => {
    for (const r of rows) {
      const [lo, hi] = ruleIpBounds('ip', r.value);
      if (lo !== null) filled += put.run(lo, hi, r.site_id, r.id).changes;
    }
  })();
  return filled;
}
