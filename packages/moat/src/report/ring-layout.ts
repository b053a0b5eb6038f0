// The shared memory between the serving thread and the report worker: a small header of positions,
// counters the worker keeps for status() (so status() stays synchronous), and a byte ring of records.
// One writer (the serving thread) and one reader (the worker): positions only grow (modulo 2^32), the
// writer publishes a record by storing its new write position after the bytes, the reader frees space
// by storing its read position after it has copied a record out.

/** Int32 words of the header. */
export const WRITE_POS = 0;
export const READ_POS = 1;
/**
 * The response status of the record written last, when it finished before another entry was written:
 * `status << STATUS_SHIFT | (seq & SEQ_LOW_MASK)` (0: none), and that record's whole sequence number, stored
 * just before it (the reader takes the pair only when both name the same record). The next record or
 * repeat entry carries the same status (REC.prevStatus), so no status entry is written for it; these words
 * serve the reader until then, e.g. for the last request before a quiet spell. Plain stores: a word is
 * never seen half written, and a reader that misses them finds the status in the next entry or drain.
 */
export const LAST_STATUS = 2;
export const LAST_STATUS_SEQ = 3;
export const STATUS_SHIFT = 22;
export const SEQ_LOW_MASK = (1 << STATUS_SHIFT) - 1;
/** Largest status a folded word holds (node:http allows 100–999). */
export const MAX_FOLDED_STATUS = 1023;
const HEADER_WORDS = 16;

/** Float64 counters the worker writes (cumulative, or gauges), read by status() on the serving thread. */
export const COUNTER = {
  taken: 0, queued: 1, queuedBytes: 2, inFlight: 3, sent: 4, batchesSent: 5, droppedQueueFull: 6, droppedQueueBytes: 7,
  droppedRejected: 8, droppedByHub: 9, droppedTooLarge: 10, droppedAtStop: 11, splits: 12, batchBytesLimit: 13, failures: 14,
  consecutiveFailures: 15, lastSuccessAt: 16, nextRetryAt: 17, wafrisFallback: 18,
  /** Passed records folded into counts (cumulative), and those not yet handed to the sender (a gauge). */
  aggregated: 19, aggregatePending: 20,
  /** Passed counts that could not be sent: the hub took only Wafris JSON, which has no place for them. */
  droppedUnsupported: 21,
  /** Records taken from the ring that wait for their response status (a gauge; see status-join.ts). */
  awaitingStatus: 22,
  /** Records sent without their status: the response had not finished within the wait (cumulative). */
  statusMissing: 23,
} as const;
const COUNTER_SLOTS = 32;

export const COUNTERS_OFFSET = HEADER_WORDS * 4;
export const RING_OFFSET = COUNTERS_OFFSET + COUNTER_SLOTS * 8;

/** Record entries start on 8-byte boundaries (their timestamp is a Float64). */
export const ALIGN = 8;
export const ENTRY_PAD = 0;
export const ENTRY_RECORD = 1;
/**
 * A response status, written when the response of an earlier record finished: the record's sequence
 * number and the status (report/status-join.ts joins them). Four words: kind, bytes, seq, status.
 */
export const ENTRY_STATUS = 2;
export const STATUS_ENTRY_BYTES = 16;
export const STATUS_SEQ = 2;
export const STATUS_CODE = 3;
/** The sequence number before `seq` (numbers skip 0 when they wrap). */
export function previousSeq(seq: number): number {
  return seq === 1 ? -1 : (seq - 1) | 0;
}
/**
 * The same request as the record written just before (a record flagged FLAG_REPEAT_BASE, followed by
 * nothing but status entries, pads and other repeats): every string field, the query and the flags are
 * the base's; only its own sequence number, time and request-id counter differ. One client repeating one
 * request is the common flood and hello world: this is 32 bytes to write and to read instead of a record.
 * Words: kind, bytes, seq, the previous entry's status (as REC.prevStatus), then atMs and the request-id counter as Float64s.
 */
export const ENTRY_REPEAT = 3;
export const REPEAT_ENTRY_BYTES = 32;
export const REPEAT_SEQ = 2;
export const REPEAT_PREV_STATUS = 3;
/** Float64 indexes (from the entry's start, in doubles) of the repeat's time and request-id counter. */
export const REPEAT_AT_MS = 2;
export const REPEAT_ID_COUNTER = 3;

/**
 * Interned fields: a record holds an id per field, or a string written in the record (a new id, or a
 * value not worth interning). Their order is the order of the strings in the record's variable part.
 */
export const FIELD = { ip: 0, userAgent: 1, path: 2, host: 3, method: 4, ipSource: 5, treatment: 6, category: 7, rule: 8, ruleId: 9 } as const;
export const FIELD_COUNT = 10;
/** A field slot: an id ≥ 0 already known to the worker, or one of these, or NEW_ID_BIT | id. */
export const SLOT_NULL = -1;
export const SLOT_LITERAL = -2;
export const NEW_ID_BIT = 0x40000000;

/** Int32 words of a record entry before its strings. */
export const REC = {
  kind: 0, bytes: 1, fields: 2, flags: 12, resets: 13, atMs: 14 /* Float64 at word 14-15 */, idCounter: 16 /* Float64 at 16-17 */,
  /** The record's sequence number (uint32, wrapping), which a later status entry names. */
  seq: 18,
  /**
   * The response status of the record or repeat written just before this one (sequence number one less;
   * 0: none), when it finished before this entry was written: the usual case (a response ends before the
   * next request is judged) then costs no status entry.
   */
  prevStatus: 19,
} as const;
export const RECORD_HEAD_BYTES = 20 * 4;

/** Flag bits of a record. */
export const FLAG_QUERY = 1 << 0;
export const FLAG_PARAMS = 1 << 1;
export const FLAG_REQUEST_ID = 1 << 2;
/** Truncation bits start here, one per cut string in write order (fields, then query, params, request id). */
export const FLAG_TRUNCATED_SHIFT = 3;
export const TRUNCATED_QUERY_BIT = FLAG_TRUNCATED_SHIFT + FIELD_COUNT;
export const TRUNCATED_PARAMS_BIT = TRUNCATED_QUERY_BIT + 1;
export const TRUNCATED_REQUEST_ID_BIT = TRUNCATED_QUERY_BIT + 2;
/** The request's response status will follow in a status entry (a Node request, status capture on). */
export const FLAG_AWAITS_STATUS = 1 << 20;
/**
 * The record carries the request's reported keys (`header:x-api-key=<hash> …`, Decision.reportKeys) as
 * one string after the monitor matches; such a record is never folded into a Passed count, which has no
 * place for a key.
 */
export const FLAG_KEYS = 1 << 16;
/** Longest reported-keys string written (MAX_REPORT_KEYS keys of at most ~105 characters each). */
export const MAX_KEYS_LENGTH = 1024;
/**
 * Repeat entries may follow this record (ENTRY_REPEAT): it has no cut value, no request-id header, no
 * monitor match and no keys, so its whole content is its interned ids, its query and its parameters.
 */
export const FLAG_REPEAT_BASE = 1 << 17;
/** Monitor matches written (at most 255), in the top byte. */
export const MONITORED_SHIFT = 24;
export const MAX_MONITORED = 255;

/** The shared buffer for a ring of `ringBytes` (rounded up to a power of two, so positions wrap cleanly). */
export function ringCapacity(ringBytes: number): number {
  let cap = 64 * 1024;
  while (cap < ringBytes && cap < 2 ** 30) cap *= 2;
  return cap;
}

export interface RingViews {
  sab: SharedArrayBuffer;
  capacity: number;
  header: Int32Array;
  counters: Float64Array;
  /** The ring itself, as words, doubles and bytes. */
  words: Int32Array;
  doubles: Float64Array;
  bytes: Buffer;
}

export function createRing(ringBytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(RING_OFFSET + ringCapacity(ringBytes));
}

export function ringViews(sab: SharedArrayBuffer): RingViews {
  const capacity = sab.byteLength - RING_OFFSET;
  return {
    sab, capacity,
    header: new Int32Array(sab, 0, HEADER_WORDS),
    counters: new Float64Array(sab, COUNTERS_OFFSET, COUNTER_SLOTS),
    words: new Int32Array(sab, RING_OFFSET, capacity / 4),
    doubles: new Float64Array(sab, RING_OFFSET, capacity / 8),
    bytes: Buffer.from(sab, RING_OFFSET, capacity),
  };
}

/** Bytes written and not yet read. */
export function usedBytes(header: Int32Array): number {
  return (Atomics.load(header, WRITE_POS) - Atomics.load(header, READ_POS)) >>> 0;
}
