import type Database from 'better-sqlite3';
import type {
  PassedSampling, ReportFilter, ReportPage, ReportRecord, RetentionPolicy, RuleHitKeys, RuleHits, TimeBucket, TopDimension,
  TopEntry, Totals, ValueHour,
} from '../store.js';
import { SqliteReportWriter } from './report-insert.js';
import { SqliteReportLog } from './report-log.js';
import { pruneReportsChunk } from './report-retention.js';
import { SqliteRollups } from './report-rollups.js';
import { SqliteReportStats } from './report-stats.js';

/**
 * Raw reports, their rollups and the dashboard queries over them: one face over the parts, which each
 * do one job (insert, roll up, prune, the dashboard's numbers, the request log).
 */
export class SqliteReports {
  private readonly writer: SqliteReportWriter;
  private readonly rollups: SqliteRollups;
  private readonly stats: SqliteReportStats;
  private readonly log: SqliteReportLog;

  constructor(private readonly db: Database.Database) {
    this.writer = new SqliteReportWriter(db);
    this.rollups = new SqliteRollups(db);
    this.stats = new SqliteReportStats(db);
    this.log = new SqliteReportLog(db, () => this.rollups.rolledUpBelow());
  }

  /** Rebuilds IP sketches from the hourly IP rows when the sketch table is new (migration 2). */
  backfillSketches(): void {
    this.rollups.backfillSketches();
  }

  /** Stores rows in one transaction: all or none. */
  insert(siteId: number, records: readonly ReportRecord[]): void {
    this.writer.insert(siteId, records);
  }

  /** Inserts records[from, to) inside the caller's transaction. */
  insertRows(siteId: number, rows: readonly ReportRecord[], from: number, to: number): void {
    this.writer.insertRows(siteId, rows, from, to);
  }

  /** Folds the next chunk of unfolded reports into the rollups, a slice per transaction (see SqliteRollups). */
  rollUp(): Promise<number> {
    return this.rollups.rollUp();
  }

  /** Deletes one chunk of expired rows; returns rows deleted (0 when nothing is left to do). */
  pruneChunk(policy: RetentionPolicy, now: number): number {
    return pruneReportsChunk(this.db, this.rollups.watermark(), policy, now);
  }

  totals(siteId: number, from: number, to: number): Totals {
    return this.stats.totals(siteId, from, to);
  }

  timeSeries(siteId: number, from: number, to: number, step: number): TimeBucket[] {
    return this.stats.timeSeries(siteId, from, to, step);
  }

  top(siteId: number, dim: TopDimension | 'monitor' | 'rule_id', from: number, to: number, limit: number): TopEntry[] {
    return this.stats.top(siteId, dim, from, to, limit);
  }

  uniqueIps(siteId: number, from: number, to: number): number {
    return this.stats.uniqueIps(siteId, from, to);
  }

  ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): RuleHits {
    return this.stats.ruleHits(siteId, from, to, keys);
  }

  passedSampling(siteId: number, from: number, to: number): PassedSampling {
    return this.stats.passedSampling(siteId, from, to);
  }

  earliestMinute(siteId: number): number | undefined {
    return this.stats.earliestMinute(siteId);
  }

  valueHours(siteId: number, dim: TopDimension, value: string, from: number, to: number): ValueHour[] {
    return this.stats.valueHours(siteId, dim, value, from, to);
  }

  query(siteId: number, filter: ReportFilter, page: { limit: number; before?: string; budgetMs?: number }): ReportPage {
    return this.log.query(siteId, filter, page);
  }
}
