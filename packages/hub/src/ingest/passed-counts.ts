import { placeReportTime } from '../store/report-rows.js';
import type { ReportRecord } from '../store/store.js';
import type { PassedCountEntry } from './compact-upsync.js';
import type { BatchTimes, RejectedRecord } from './upsync-batch.js';

/** What became of a batch's counts of Passed requests. */
export interface SortedPassedCounts {
  accepted: ReportRecord[];
  /** Requests of the refused entries (a client counts its losses in requests). */
  rejectedRequests: number;
  rejected: RejectedRecord[];
  clamped: number;
}

/**
 * Judges each count entry as a record is judged (an IP of 1 to 64 characters, text cut to the same
 * limits, the time placed on the hub's time line), and turns the good ones into reports rows that
 * stand for `count` requests. `firstIndex`: entries are listed in refusals after the batch's records.
 */
export function sortPassedCounts(
  entries: readonly PassedCountEntry[], times: BatchTimes, countryOf: (ip: string) => string | null, firstIndex: number,
): SortedPassedCounts {
  const out: SortedPassedCounts = { accepted: [], rejectedRequests: 0, rejected: [], clamped: 0 };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const ts = placeReportTime(e.timestamp, times.receivedAt, times.oldestKept);
    const reason = e.ip.length === 0 || e.ip.length > 64 ? 'aggregates.ip: 1 to 64 characters'
      : ts === 'too_old' ? 'aggregates.timestamp: older than the hub keeps reports' : null;
    if (reason !== null || ts === 'too_old') {
      out.rejectedRequests += e.count;
      if (out.rejected.length < 20) out.rejected.push({ index: firstIndex + i, reason: reason ?? 'invalid' });
      continue;
    }
    if (ts !== e.timestamp) out.clamped += 1;
    out.accepted.push({
      ts, ip: e.ip, method: e.method.slice(0, 16).toUpperCase(), host: e.host.slice(0, 255), path: e.path.slice(0, 2048), parameter: '',
      userAgent: e.user_agent.slice(0, 1024), requestId: '', treatment: 'Passed', category: 'passed', rule: '-', ruleId: null,
      monitored: null, ipSource: null, country: countryOf(e.ip), aggregateCount: e.count,
    });
  }
  return out;
}
