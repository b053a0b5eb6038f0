import { setImmediate as nextTurn } from 'node:timers/promises';
import { placeReportTime } from '../store/report-rows.js';
import { checkUpsyncRecord } from './fast-upsync-parse.js';
import { upsyncEnvelopeSchema, upsyncMetaSchema, type UpsyncMeta, type UpsyncRecord } from './upsync-schema.js';

/** Refusals listed in an answer; the count covers all of them. */
export const MAX_LISTED_REJECTIONS = 20;

export interface RejectedRecord {
  /** Position in the posted batch. */
  index: number;
  reason: string;
}

export interface UpsyncBatch {
  meta: UpsyncMeta;
  accepted: UpsyncRecord[];
  /** How many records were refused, and the first MAX_LISTED_REJECTIONS of them. */
  rejectedCount: number;
  rejected: RejectedRecord[];
  /** Accepted records whose timestamp was moved to the receipt time (dated too far ahead). */
  clamped: number;
}

export interface BatchTimes {
  /** Unix seconds the batch arrived. */
  receivedAt: number;
  /** Unix seconds of the oldest report retention still keeps. */
  oldestKept: number;
}

/**
 * Records judged per event-loop turn by the sliced sorter. A record that misses the fast path goes
 * through the schema (~10–60 µs on the shared 2-core box, more with monitored matches): 10 000 such
 * records, which fit a 2 MB compact body, held the loop 0.56–0.86 s in one go; sliced, the longest
 * stall of that upsync was 0.07–0.17 s (parsing and garbage collection, not sorting).
 */
export const SORT_SLICE = 1_000;

/**
 * Sorts a parsed upsync body into the records to store and the ones refused, each record judged alone:
 * clients such as the Wafris gem never resend a batch, so refusing all of it for one odd record would
 * lose up to its whole size. Only an unusable envelope (no `batch` array, or more than maxRecords) throws.
 * A malformed `meta` is read as empty rather than refused.
 */
export function upsyncBatchSorter(maxRecords: number): (body: unknown, times: BatchTimes) => UpsyncBatch {
  const start = batchSorting(maxRecords);
  return (body, times) => {
    const sorting = start(body, times);
    sorting.judge(0, sorting.records);
    return sorting.batch;
  };
}

/**
 * The same sorting, SORT_SLICE records per event-loop turn, so a batch built to miss the fast path
 * cannot hold the loop for its whole length.
 */
export function upsyncBatchSorterInSlices(maxRecords: number): (body: unknown, times: BatchTimes) => Promise<UpsyncBatch> {
  const start = batchSorting(maxRecords);
  return async (body, times) => {
    const sorting = start(body, times);
    for (let from = 0; from < sorting.records; from += SORT_SLICE) {
      if (from > 0) await nextTurn();
      sorting.judge(from, Math.min(sorting.records, from + SORT_SLICE));
    }
    return sorting.batch;
  };
}

/** The envelope checked, and a judge of its records by position (both sorters share it). */
function batchSorting(maxRecords: number) {
  const envelopeSchema = upsyncEnvelopeSchema(maxRecords);
  return (body: unknown, times: BatchTimes) => {
    const envelope = envelopeSchema.parse(body);
    const meta = upsyncMetaSchema.safeParse((body as { meta?: unknown }).meta);
    const batch: UpsyncBatch = {
      meta: meta.success ? meta.data : { version: '', client: '', framework: '' },
      accepted: [], rejectedCount: 0, rejected: [], clamped: 0,
    };
    const reject = (index: number, reason: string) => {
      batch.rejectedCount += 1;
      if (batch.rejected.length < MAX_LISTED_REJECTIONS) batch.rejected.push({ index, reason });
    };
    /** Judges records [from, to), in order. */
    const judge = (from: number, to: number) => {
      for (let index = from; index < to; index++) {
        const checked = checkUpsyncRecord(envelope.batch[index]);
        if ('reason' in checked) {
          reject(index, checked.reason);
          continue;
        }
        const { record } = checked;
        const ts = placeReportTime(record.timestamp, times.receivedAt, times.oldestKept);
        if (ts === 'too_old') {
          reject(index, 'timestamp: older than the hub keeps reports');
          continue;
        }
        if (ts !== record.timestamp) {
          batch.clamped += 1;
          record.timestamp = ts;
        }
        batch.accepted.push(record);
      }
    };
    return { batch, records: envelope.batch.length, judge };
  };
}
