/**
 * The rules search on PostgreSQL folds case as the hub does (rules/rule-filter.ts `foldForSearch`), not by
 * the database's locale: each rule row carries its value and note folded by the hub (migration 17), and
 * the search looks in those. Rows written before that version, or by an older hub during a rolling deploy,
 * have none (NULL): the search reads them with lower() until the next hub to start fills them.
 */
import type { Pool } from 'pg';
import { foldForSearch } from '../../rules/rule-filter.js';

/** A rule's value and note as the search compares them: the columns value_folded and note_folded ('' for no note). */
export function ruleFolds(value: string, note: string | null | undefined): [string, string] {
  return [foldForSearch(value), foldForSearch(note ?? '')];
}

/** The SQL condition "the rule's value or note holds `param`" (a parameter such as `$4`, already folded). */
export function foldedTextHolds(param: string): string {
  return `(strpos(coalesce(value_folded, lower(value)), ${param}) > 0 OR strpos(coalesce(note_folded, lower(coalesce(note, ''))), ${param}) > 0)`;
}

const FILL_BATCH = 1000;

/**
 * Folds the text of rows that have no folded text (at start, after the migrations); returns how many.
 * A row whose text changed since it was read here is left as it is: its writer folded it, or the next start will.
 */
export async function fillRuleFolds(pool: Pool): Promise<number> {
  let filled = 0;
  for (;;) {
    const { rows } = await pool.query<{ site_id: string; id: string; value: string; note: string | null }>(
      'SELECT site_id, id, value, note FROM rules WHERE value_folded IS NULL LIMIT $1', [FILL_BATCH]);
    if (rows.length === 0) return filled;
    const folds = rows.map((r) => ruleFolds(r.value, r.note));
    const result = await pool.query(`UPDATE rules r SET value_folded = f.value_folded, note_folded = f.note_folded
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS f(site_id, id, value, note, value_folded, note_folded)
      WHERE r.site_id = f.site_id AND r.id = f.id AND r.value = f.value AND r.note IS NOT DISTINCT FROM f.note AND r.value_folded IS NULL`,
    [rows.map((r) => r.site_id), rows.map((r) => r.id), rows.map((r) => r.value), rows.map((r) => r.note), folds.map((f) => f[0]), folds.map((f) => f[1])]);
    filled += result.rowCount ?? 0;
    // Bounded: rows another hub changes meanwhile are not chased.
    if (rows.length < FILL_BATCH || result.rowCount !== rows.length) return filled;
  }
}
