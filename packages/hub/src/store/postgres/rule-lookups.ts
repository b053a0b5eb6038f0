import type { Pool } from 'pg';
import { ruleIpBounds } from '../rule-lookup.js';

/**
 * PostgresStore.rulesFor in one statement: the ids of each kind of candidate, then their rows in list
 * order. $1 site, $2 address keys, $3 whether addresses were asked (then IP rules without bounds, written
 * by an older hub, are candidates too), $4–$6 countries, ASNs and lists, $7 and $8 the folded texts paths
 * and user agents are looked for in (NULL for none), $9 ids. Substring rules compare their value folded by
 * the hub (value_folded, migration 17), or are candidates when an older hub left it NULL.
 */
export const RULES_FOR = `SELECT * FROM rules WHERE site_id = $1 AND id = ANY(ARRAY(
    SELECT r.id FROM unnest($2::text[]) AS k(key)
      CROSS JOIN LATERAL (SELECT id FROM rules WHERE site_id = $1 AND kind = 'ip' AND ip_lo <= k.key AND ip_hi >= k.key) r
    UNION ALL SELECT id FROM rules WHERE $3 AND site_id = $1 AND kind = 'ip' AND ip_lo IS NULL
    UNION ALL SELECT id FROM rules WHERE site_id = $1 AND kind = 'country' AND value = ANY($4::text[])
    UNION ALL SELECT id FROM rules WHERE site_id = $1 AND kind = 'asn' AND value = ANY($5::text[])
    UNION ALL SELECT id FROM rules WHERE site_id = $1 AND kind = 'list' AND value = ANY($6::text[])
    UNION ALL SELECT id FROM rules WHERE $7::text IS NOT NULL AND site_id = $1 AND kind = 'path'
      AND (value_folded IS NULL OR strpos($7::text, value_folded) > 0)
    UNION ALL SELECT id FROM rules WHERE $8::text IS NOT NULL AND site_id = $1 AND kind = 'userAgent'
      AND (value_folded IS NULL OR strpos($8::text, value_folded) > 0)
    UNION ALL SELECT id FROM rules WHERE site_id = $1 AND id = ANY($9::text[])
  )) ORDER BY position, id COLLATE "C"`;

const FILL_BATCH = 1000;

/**
 * Gives IP rules without range keys theirs (at start: rows of older versions, or written by an older hub);
 * returns how many. A row whose value changed since it was read here is left as it is.
 */
export async function fillRuleIpBounds(pool: Pool): Promise<number> {
  let filled = 0;
  let after: [string, string] = ['0', ''];
  for (;;) {
    // Keyset order, so rows whose value cannot be read as a range are passed, not read again.
    const { rows } = await pool.query<{ site_id: string; id: string; value: string }>(
      `SELECT site_id, id, value FROM rules WHERE kind = 'ip' AND ip_lo IS NULL AND (site_id > $1::bigint OR (site_id = $1::bigint AND id COLLATE "C" > $2::text))
       ORDER BY site_id, id COLLATE "C" LIMIT $3`, [after[0], after[1], FILL_BATCH]);
    if (rows.length === 0) return filled;
    const bounds = rows.map((r) => ruleIpBounds('ip', r.value));
    const result = await pool.query(`UPDATE rules r SET ip_lo = f.lo, ip_hi = f.hi
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS f(site_id, id, value, lo, hi)
      WHERE r.site_id = f.site_id AND r.id = f.id AND r.value = f.value AND r.kind = 'ip' AND f.lo IS NOT NULL AND r.ip_lo IS NULL`,
    [rows.map((r) => r.site_id), rows.map((r) => r.id), rows.map((r) => r.value), bounds.map((b) => b[0]), bounds.map((b) => b[1])]);
    filled += result.rowCount ?? 0;
    const last = rows[rows.length - 1]!;
    after = [last.site_id, last.id];
    if (rows.length < FILL_BATCH) return filled;
  }
}
