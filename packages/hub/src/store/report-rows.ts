import { MAX_VALUE_HOURS, type ReportPage, type ReportRecord, type RuleHits, type StoredReport, type Totals, type Treatment } from './store.js';

// Pure pieces both report stores share: codes, limits, row mapping and the request-log paging.

export const TREATMENT_CODE: Record<Treatment, number> = { Passed: 0, Allowed: 1, Blocked: 2 };
const TREATMENT_NAME: readonly Treatment[] = ['Passed', 'Allowed', 'Blocked'];

/** Rows folded per rollUp() call, so one call never holds the event loop (or a transaction) for long. */
export const ROLLUP_CHUNK = 50_000;
/** Up to this many (hour, IP) rows in a range, unique IPs are counted exactly; above, from sketches. */
export const EXACT_UNIQUE_LIMIT = 20_000;
/** Dimensions whose per-hour sizes are kept (every hour_top dimension plus monitor). */
export const SIZED_DIMENSIONS = ['ip', 'path', 'userAgent', 'country', 'rule', 'rule_id', 'match', 'monitor'];
/** Rows deleted per statement when pruning. */
export const PRUNE_CHUNK = 10_000;

/** A reports row; `monitored` is JSON text in SQLite and parsed jsonb in PostgreSQL. */
export interface ReportRow<Monitored> {
  id: number; ts: number; ip: string; method: string; host: string; path: string; parameter: string;
  user_agent: string; request_id: string; treatment: number; category: string; rule: string;
  rule_id: string | null; monitored: Monitored; ip_source: string | null; country: string | null;
  keys?: string | null;
  status?: number | null;
}

/**
 * The `status` column: the reported response status, or null (none reported, or not one: ingest turns
 * anything but an integer from 100 to 599 into null, and this check keeps a stray value out of the column).
 */
export function storedStatus(status: ReportRecord['status']): number | null {
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599 ? status : null;
}

/**
 * The `keys` column: a report's hashed keys as the client sent them, `header:x-api-key=<32 hex> user=<32 hex>`
 * (checked at ingest, so only hashes ever get here); null when it had none, which costs an insert nothing.
 */
export function storedKeysText(keys: ReportRecord['keys']): string | null {
  if (!keys || keys.length === 0) return null;
  let text = '';
  for (const k of keys) text = text === '' ? `${k.kind}=${k.hash}` : `${text} ${k.kind}=${k.hash}`;
  return text;
}

/** The `keys` column read back; null for none. */
export function parseStoredKeys(text: string | null | undefined): { kind: string; hash: string }[] | null {
  if (!text) return null;
  return text.split(' ').map((pair) => {
    const eq = pair.lastIndexOf('=');
    return { kind: pair.slice(0, eq), hash: pair.slice(eq + 1) };
  });
}

/**
 * How each hour_top dimension is computed from a report row (SQL expression, row filter). Fixed SQL
 * fragments only; `always` (a true condition) and `tab` (a tab character) are the dialect's spelling.
 */
export function hourDimensions(sql: { always: string; tab: string }): ReadonlyArray<{ dim: string; expr: string; where: string }> {
  return [
    { dim: 'ip', expr: 'ip', where: sql.always },
    { dim: 'path', expr: 'path', where: sql.always },
    { dim: 'userAgent', expr: 'user_agent', where: sql.always },
    { dim: 'country', expr: 'country', where: 'country IS NOT NULL' },
    // What decided the request, for requests a rule decided.
    { dim: 'rule', expr: `category || ${sql.tab} || rule`, where: 'treatment <> 0' },
    { dim: 'rule_id', expr: 'rule_id', where: 'rule_id IS NOT NULL' },
    // Decisions reported without a rule id (Wafris clients): matched to rules by category and entry.
    { dim: 'match', expr: `category || ${sql.tab} || rule`, where: 'treatment <> 0 AND rule_id IS NULL' },
  ];
}

/** Reports dated further ahead of the hub's clock than this are placed at the time they arrived. */
export const REPORT_MAX_AHEAD_SECONDS = 24 * 3600;

/**
 * Where a report goes on the hub's time line (Unix seconds): its own time when plausible; the receipt
 * time when it is dated more than a day ahead (a wrong clock, or milliseconds sent as seconds — one such
 * record, dated in the year 5138, topped the request log and was never pruned); 'too_old' when it is
 * older than retention keeps anything, so storing it would only feed the next prune.
 */
export function placeReportTime(ts: number, receivedAt: number, oldestKept: number): number | 'too_old' {
  if (ts > receivedAt + REPORT_MAX_AHEAD_SECONDS) return receivedAt;
  if (ts < oldestKept) return 'too_old';
  return ts;
}

export type TotalsRow = { total: number | null; blocked: number | null; allowed: number | null; passed: number | null; monitored: number | null };

/** The hour starts in [from, to), newest MAX_VALUE_HOURS of them at most. */
export function hoursOf(from: number, to: number): number[] {
  const hours: number[] = [];
  for (let h = hourFloor(to - 1); h >= hourFloor(from) && hours.length < MAX_VALUE_HOURS; h -= 3600) hours.push(h);
  return hours.reverse();
}

export function hourFloor(t: number): number {
  return t - (((t % 3600) + 3600) % 3600);
}

export function toTotals(row: TotalsRow | undefined): Totals {
  return {
    total: row?.total ?? 0, blocked: row?.blocked ?? 0, allowed: row?.allowed ?? 0,
    passed: row?.passed ?? 0, monitored: row?.monitored ?? 0,
  };
}

export function parseCursor(text: string): { ts: number; id: number } | undefined {
  const m = /^(\d{1,15}):(\d{1,15})$/.exec(text);
  return m ? { ts: Number(m[1]), id: Number(m[2]) } : undefined;
}

export function toStoredReport(r: ReportRow<unknown>, monitored: StoredReport['monitored']): StoredReport {
  return {
    id: r.id, ts: r.ts, ip: r.ip, method: r.method, host: r.host, path: r.path, parameter: r.parameter,
    userAgent: r.user_agent, requestId: r.request_id, treatment: TREATMENT_NAME[r.treatment] ?? 'Passed',
    category: r.category, rule: r.rule, ruleId: r.rule_id, monitored,
    ipSource: r.ip_source, country: r.country, ...(r.keys ? { keys: parseStoredKeys(r.keys) } : {}),
    status: r.status ?? null,
  };
}

/** Rule hit counts from hour_top sums of the rule_id, monitor and match dimensions. */
export function toRuleHits(rows: Iterable<{ dim: string; value: string; total: number }>): RuleHits {
  const byId = new Map<string, { hits: number; monitored: number }>();
  const byMatch = new Map<string, number>();
  for (const r of rows) {
    if (r.dim === 'match') {
      byMatch.set(r.value, r.total);
    } else {
      const entry = byId.get(r.value) ?? { hits: 0, monitored: 0 };
      if (r.dim === 'rule_id') entry.hits += r.total;
      else entry.monitored += r.total;
      byId.set(r.value, entry);
    }
  }
  return { byId, byMatch };
}

/** The page for rows found newest first (up to limit + 1, the extra one only telling that more exist). */
export function reportPage<Row extends ReportRow<unknown>>(rows: Row[], limit: number, toReport: (r: Row) => StoredReport): ReportPage {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return { rows: shown.map(toReport), next: more && last ? `${last.ts}:${last.id}` : null };
}
