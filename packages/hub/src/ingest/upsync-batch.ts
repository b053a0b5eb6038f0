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
 * Sorts a parsed upsync body into the records to store and the ones refused, each record judged alone:
 * clients such as the Wafris gem never resend a batch, so refusing all of it for one odd record would
 * lose up to its whole size. Only an unusable envelope (no `batch` array, or more than maxRecords) throws.
 * A malformed `meta` is read as empty rather than refused.
 */
export function upsyncBatchSorter(maxRecords: number): (body: unknown, times: BatchTimes) => UpsyncBatch {
  const envelopeSchema = upsyncEnvelopeSchema(maxRecords);
  return (body, times) => {
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
    for (let index = 0; index < envelope.batch.length; index++) {
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
    return batch;
  };
}
