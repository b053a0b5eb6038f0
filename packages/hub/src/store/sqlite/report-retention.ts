import type Database from 'better-sqlite3';
import { PRUNE_CHUNK, REPORT_MAX_AHEAD_SECONDS } from '../report-rows.js';
import type { RetentionPolicy } from '../store.js';
import { DAY_SECONDS, DAY_TOP_DIMENSIONS } from '../top-heads.js';
import { HOUR_DIMENSIONS } from './report-rollups.js';

/**
 * Deletes one chunk of expired rows per site; returns rows deleted (0 when nothing is left to do).
 * Only raw reports at or below `watermark` (already folded into the rollups) are deleted.
 */
export function pruneReportsChunk(db: Database.Database, watermark: number, policy: RetentionPolicy, now: number): number {
  const rawCutoff = now - policy.rawSeconds;
  const rollupCutoff = now - policy.rollupSeconds;
  const sites = db.prepare<[], number>('SELECT DISTINCT site_id FROM minute_stats').pluck().all();
  let deleted = 0;
  for (const siteId of sites) {
    // Only rows already folded into the rollups are deleted, so no count is lost.
    deleted += db.prepare(`DELETE FROM reports WHERE id IN (
      SELECT id FROM reports WHERE site_id = ? AND ts < ? AND id <= ? LIMIT ${PRUNE_CHUNK})`)
      .run(siteId, rawCutoff, watermark).changes;
    // Rows dated far ahead (stored before ingest clamped timestamps) would otherwise never age out.
    deleted += db.prepare(`DELETE FROM reports WHERE id IN (
      SELECT id FROM reports WHERE site_id = ? AND ts > ? AND id <= ? LIMIT ${PRUNE_CHUNK})`)
      .run(siteId, now + REPORT_MAX_AHEAD_SECONDS, watermark).changes;
    deleted += db.prepare('DELETE FROM minute_stats WHERE site_id = ? AND minute < ?').run(siteId, rollupCutoff).changes;
    for (const dim of [...HOUR_DIMENSIONS.map((d) => d.dim), 'monitor']) {
      deleted += db.prepare(`DELETE FROM hour_top WHERE site_id = ? AND dim = ? AND hour < ?`)
        .run(siteId, dim, rollupCutoff).changes;
      db.prepare('DELETE FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour < ?').run(siteId, dim, rollupCutoff);
    }
    db.prepare('DELETE FROM hour_ip_sketch WHERE site_id = ? AND hour < ?').run(siteId, rollupCutoff);
    // Day summaries go with the last of their hours.
    const lastExpiredDay = rollupCutoff - DAY_SECONDS;
    for (const dim of DAY_TOP_DIMENSIONS) {
      deleted += db.prepare('DELETE FROM day_top WHERE site_id = ? AND dim = ? AND day <= ?').run(siteId, dim, lastExpiredDay).changes;
      db.prepare('DELETE FROM day_top_floor WHERE site_id = ? AND dim = ? AND day <= ?').run(siteId, dim, lastExpiredDay);
    }
  }
  return deleted;
}
