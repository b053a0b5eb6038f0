import type Database from 'better-sqlite3';
import { DAY_SECONDS, DAY_TOP_DIMENSIONS, HEAD_VALUES, type Head, dayHead, hourHead } from '../top-heads.js';

/** An hour's largest values in head order, from the covering index hour_top_by_total (no table lookup). */
export const HOUR_HEAD_SQL = `SELECT value, total, blocked FROM hour_top WHERE site_id = ? AND dim = ? AND hour = ?
  ORDER BY total DESC, blocked DESC, value DESC LIMIT ?`;

/**
 * Day summaries for the top lists (migration 19): a day the rollup touches is pending (day_top_floor.floor
 * NULL) and has no summary; once the site has reports of a later day, the rollup builds it from the day's
 * hour heads, a dimension at a time within a row budget per call.
 */
export class SqliteDayTops {
  private readonly pendingPut;
  private readonly rowsDelete;
  private readonly finished;
  private readonly hoursOfDay;
  private readonly hourHead;
  private readonly rowInsert;
  private readonly floorPut;

  constructor(db: Database.Database) {
    this.pendingPut = db.prepare(`INSERT INTO day_top_floor (site_id, dim, day, floor) VALUES (?, ?, ?, NULL)
      ON CONFLICT (site_id, dim, day) DO UPDATE SET floor = NULL`);
    this.rowsDelete = db.prepare('DELETE FROM day_top WHERE site_id = ? AND dim = ? AND day = ?');
    // Pending days the site has moved past (it has a report of a later day), newest first.
    this.finished = db.prepare<[number], { site_id: number; dim: string; day: number }>(`SELECT site_id, dim, day FROM day_top_floor p
      WHERE floor IS NULL AND day + ${DAY_SECONDS} <= (SELECT max(minute) FROM minute_stats m WHERE m.site_id = p.site_id)
      ORDER BY day DESC LIMIT ?`);
    this.hoursOfDay = db.prepare<[number, string, number, number], number>(
      'SELECT hour FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ?').pluck();
    this.hourHead = db.prepare<[number, string, number, number], [string, number, number]>(HOUR_HEAD_SQL).raw();
    this.rowInsert = db.prepare('INSERT INTO day_top (site_id, dim, day, value, total, blocked, missed) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.floorPut = db.prepare('UPDATE day_top_floor SET floor = ? WHERE site_id = ? AND dim = ? AND day = ?');
  }

  /** The rollup changed hours of this day: its summary goes (top lists read the hours) until rebuilt. */
  changed(siteId: number, day: number): void {
    for (const dim of DAY_TOP_DIMENSIONS) {
      this.pendingPut.run(siteId, dim, day);
      this.rowsDelete.run(siteId, dim, day);
    }
  }

  /**
   * Builds finished pending days, newest first, a dimension at a time, until `rowBudget` hourly rows were
   * read (at least one dimension of a day: at most 24 × 101 rows). Returns the rows read.
   */
  buildFinished(rowBudget: number): number {
    let read = 0;
    for (const { site_id, dim, day } of this.finished.all(64)) {
      if (read >= rowBudget) break;
      read += this.build(site_id, dim, day);
    }
    return read;
  }

  /** Summarises one dimension of one day of one site; returns the hourly rows read. */
  private build(siteId: number, dim: string, day: number): number {
    let read = 0;
    const hours: Head[] = [];
    for (const hour of this.hoursOfDay.all(siteId, dim, day, day + DAY_SECONDS)) {
      const rows = this.hourHead.all(siteId, dim, hour, HEAD_VALUES + 1);
      read += rows.length;
      hours.push(hourHead(rows, HEAD_VALUES));
    }
    const head = dayHead(hours, HEAD_VALUES);
    this.rowsDelete.run(siteId, dim, day);
    for (const r of head.rows) this.rowInsert.run(siteId, dim, day, r.value, r.total, r.blocked, r.missed);
    this.floorPut.run(head.floor, siteId, dim, day);
    return read;
  }
}
