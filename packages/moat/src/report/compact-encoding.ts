// The compact Moat upsync encoding (Content-Type application/vnd.moat.upsync.v2+json): one batch as
// columns, every string once in a dictionary and each record a row of indexes into it. Paths, user
// agents, hosts and rules repeat across a batch, so a record costs a few bytes instead of the few
// hundred of the Wafris JSON; expanded, each record is exactly the Wafris record of the same decision
// (see UpsyncRecord). Version 2 adds `aggregates`: counts of Passed requests per key and minute that
// were not sent as records (report/passed-aggregator.ts); without counts it is version 1 plus n ≥ 0.
// The Moat hub decodes it; a hub that answers 415 gets Wafris JSON instead.
import type { ParamRedactor } from '../sync/redact-params.js';
import { reportedParameter, type QueuedRecord } from '../sync/report-record.js';
import { MoatError } from '../errors/moat-error.js';

export const COMPACT_CONTENT_TYPE = 'application/vnd.moat.upsync.v2+json';

export interface CompactMeta {
  version: string;
  client: string;
  framework: string;
}

/** The body, before JSON; field names as in the contract. */
export interface CompactBatch {
  meta: CompactMeta;
  n: number;
  /** Unix seconds: base of the timestamp column. */
  t0: number;
  strings: string[];
  columns: {
    ip: number[]; user_agent: number[]; path: number[]; parameter: number[]; host: number[]; method: number[];
    ip_source: number[]; treatment: number[]; category: number[]; rule: number[];
    /** Index, or -1 for null. */
    rule_id: number[];
    request_id: string[];
    timestamp: number[];
    /** Per record: [category, rule, rule_id] string indexes of each monitor match. */
    monitored: [number, number, number][][];
    /** The response status of each record, -1 when not known; left out when no record of the batch has one. */
    status?: number[];
    /** Each record's reported keys (a string index, -1 for none); left out when no record of the batch has any. */
    keys?: number[];
  };
  /** Counts of Passed requests not sent as records; present when there are any. */
  aggregates?: CompactAggregates;
}

/** One entry per (key, minute): string indexes, seconds after t0, and how many requests. */
export interface CompactAggregates {
  n: number;
  ip: number[]; user_agent: number[]; path: number[]; host: number[]; method: number[];
  timestamp: number[];
  count: number[];
}

/** Shared by the records without monitor matches (most): never mutated. */
const NO_MONITORED: [number, number, number][] = [];

/** Index columns of a record (all but request_id, timestamp and monitored). */
const INDEX_COLUMNS = 11;
/** Longest decimal index plus its comma, an upper bound: batches stay far below 10^7 strings. */
const INDEX_BYTES = 8;
/** A timestamp offset plus its comma, from above (seconds, written relative to t0). */
const TIMESTAMP_BYTES = 12;
/** A status (three digits, or -1) plus its comma, and the column's name once, spread over records. */
const STATUS_BYTES = 5;
/** A count plus its comma (at most MAX_AGGREGATE_COUNT, 8 digits). */
const COUNT_BYTES = 9;
/** `,"aggregates":{"n":…,"ip":[],…}` around the first count, from above. */
const AGGREGATES_ENVELOPE_BYTES = 128;

/**
 * Builds one batch record by record and knows its JSON size from above as it goes, so batches can be
 * cut to a byte limit without encoding twice.
 */
export class CompactBatchBuilder {
  private readonly index = new Map<string, number>();
  private readonly strings: string[] = [];
  private readonly columns: CompactBatch['columns'] = {
    ip: [], user_agent: [], path: [], parameter: [], host: [], method: [], ip_source: [], treatment: [], category: [], rule: [],
    rule_id: [], request_id: [], timestamp: [], monitored: [], status: [], keys: [],
  };
  /** Records of the batch with reported keys: without any, the column is left out. */
  private withKeys = 0;
  /** Records of the batch with a status: without any, the column is left out. */
  private withStatus = 0;
  private seconds: number[] = [];
  private readonly aggregates: Omit<CompactAggregates, 'n' | 'timestamp'> & { seconds: number[] } = {
    ip: [], user_agent: [], path: [], host: [], method: [], seconds: [], count: [],
  };
  /** Whether the record added last was a count (removeLast takes it from there). */
  private lastWasCount = false;
  private readonly lastText: (string | null)[] = new Array<string | null>(11).fill(null);
  private readonly lastIndex = new Int32Array(11);
  /** How to take the last record out again: the dictionary length and size before it. */
  private undo: { strings: number; bytes: number } | null = null;
  /** JSON bytes of the batch so far, from above. */
  bytes: number;

  constructor(private readonly meta: CompactMeta, private readonly redactor: ParamRedactor) {
    this.bytes = Buffer.byteLength(JSON.stringify({ meta, n: 0, t0: 0, strings: [], columns: this.columns })) + 24;
  }

  get count(): number {
    return this.seconds.length + this.aggregates.count.length;
  }

  /** Adds a record (or a count); returns the bytes it added (strings new to the batch included), from above. */
  add(record: QueuedRecord): number {
    const before = this.bytes;
    this.undo = { strings: this.strings.length, bytes: before };
    this.lastWasCount = record.aggregated !== undefined;
    if (record.aggregated !== undefined) {
      const a = this.aggregates;
      if (a.count.length === 0) this.bytes += AGGREGATES_ENVELOPE_BYTES;
      a.ip.push(this.cached(0, record.ip));
      a.user_agent.push(this.cached(1, record.userAgent));
      a.path.push(this.cached(2, record.path));
      a.host.push(this.cached(4, record.host));
      a.method.push(this.cached(5, record.method));
      a.seconds.push(Math.floor(record.atMs / 1000));
      a.count.push(record.aggregated);
      this.bytes += 5 * INDEX_BYTES + TIMESTAMP_BYTES + COUNT_BYTES;
      return this.bytes - before;
    }
    const c = this.columns;
    c.ip.push(this.cached(0, record.ip));
    c.user_agent.push(this.cached(1, record.userAgent));
    c.path.push(this.cached(2, record.path));
    c.parameter.push(this.parameterIndex(record));
    c.host.push(this.cached(4, record.host));
    c.method.push(this.cached(5, record.method));
    c.ip_source.push(this.cached(6, record.ipSource));
    c.treatment.push(this.cached(7, record.treatment));
    c.category.push(this.cached(8, record.category));
    c.rule.push(this.cached(9, record.rule));
    c.rule_id.push(record.ruleId === null ? -1 : this.cached(10, record.ruleId));
    c.request_id.push(record.requestId);
    this.bytes += jsonBytes(record.requestId) + 1;
    c.status!.push(record.status ?? -1);
    if (record.status !== undefined) this.withStatus++;
    this.bytes += STATUS_BYTES;
    c.keys!.push(record.keys === undefined ? -1 : this.id(record.keys));
    if (record.keys !== undefined) this.withKeys++;
    this.bytes += STATUS_BYTES + INDEX_BYTES;
    this.seconds.push(Math.floor(record.atMs / 1000));
    if (record.monitored.length === 0) {
      c.monitored.push(NO_MONITORED);
    } else {
      const monitored: [number, number, number][] = [];
      for (const m of record.monitored) {
        monitored.push([this.id(m.category), this.id(m.rule), this.id(m.ruleId)]);
        this.bytes += 3 * INDEX_BYTES + 2;
      }
      c.monitored.push(monitored);
    }
    this.bytes += INDEX_COLUMNS * INDEX_BYTES + TIMESTAMP_BYTES + 3;
    return this.bytes - before;
  }

  /**
   * The `parameter` index. Decoding and redacting a query was over half of add()'s cost (measured
   * ~1.3 µs of 2.2 on a hello-world query), and clients repeat their queries: the same query text as
   * the record before, with no body parameters, gives the same redacted text.
   */
  private parameterIndex(record: QueuedRecord): number {
    if (record.query === '' && record.params === undefined) return this.cached(3, '');
    if (record.params === undefined && record.query === this.lastQuery) return this.lastQueryIndex;
    const index = this.id(reportedParameter(record, this.redactor));
    if (record.params === undefined) {
      this.lastQuery = record.query;
      this.lastQueryIndex = index;
    }
    return index;
  }

  private lastQuery: string | null = null;
  private lastQueryIndex = 0;

  /** Takes the record added last out again (it made the batch too large). */
  removeLast(): void {
    const undo = this.undo;
    if (undo === null) throw new MoatError('MOAT_ERR_INTERNAL', 'removeLast: nothing to remove');
    this.undo = null;
    if (this.lastWasCount) {
      for (const column of Object.values(this.aggregates)) column.pop();
    } else {
      if ((this.columns.status!.pop() ?? -1) !== -1) this.withStatus--;
      if ((this.columns.keys!.pop() ?? -1) !== -1) this.withKeys--;
      for (const column of Object.values(this.columns)) if (column !== this.columns.status && column !== this.columns.keys) (column as unknown[]).pop();
      this.seconds.pop();
    }
    while (this.strings.length > undo.strings) this.index.delete(this.strings.pop()!);
    this.bytes = undo.bytes;
    this.lastText.fill(null); // they may name strings just taken out
    this.lastQuery = null;
  }

  /** The batch as JSON text (at most `bytes` bytes). */
  finish(): string {
    let t0 = Infinity;
    for (const s of this.seconds) if (s < t0) t0 = s;
    const a = this.aggregates;
    for (const s of a.seconds) if (s < t0) t0 = s;
    if (!Number.isFinite(t0)) t0 = 0;
    const columns = { ...this.columns, timestamp: this.seconds.map((s) => s - t0) };
    if (this.withStatus === 0) delete columns.status;
    if (this.withKeys === 0) delete columns.keys;
    const batch: CompactBatch = { meta: this.meta, n: this.seconds.length, t0, strings: this.strings, columns };
    if (a.count.length > 0) {
      batch.aggregates = {
        n: a.count.length, ip: a.ip, user_agent: a.user_agent, path: a.path, host: a.host, method: a.method,
        timestamp: a.seconds.map((s) => s - t0), count: a.count,
      };
    }
    return JSON.stringify(batch);
  }

  /**
   * The index of a column's value, trying the column's previous value first: records read from the ring
   * share their interned strings, so a repeated path or user agent is the same string object and this
   * is a pointer comparison instead of a hash lookup (measured: about half of the encoding's cost).
   */
  private cached(column: number, text: string): number {
    if (this.lastText[column] === text) return this.lastIndex[column]!; // column < 11, the array's length
    const id = this.id(text);
    this.lastText[column] = text;
    this.lastIndex[column] = id;
    return id;
  }

  private id(text: string): number {
    let id = this.index.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.index.set(text, id);
      this.bytes += jsonBytes(text) + 1;
    }
    return id;
  }
}

/** Bytes of `text` as a JSON string. */
function jsonBytes(text: string): number {
  // Plain ASCII without quotes, backslashes or control characters (nearly every value) needs no escaping;
  // a character loop is cheaper than a regular expression on these short strings (measured).
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return Buffer.byteLength(JSON.stringify(text));
  }
  return text.length + 2;
}

/** Encodes records as one compact batch (tests and tools; the sender builds batches incrementally). */
export function encodeCompactBatch(records: readonly QueuedRecord[], meta: CompactMeta, redactor: ParamRedactor): string {
  const builder = new CompactBatchBuilder(meta, redactor);
  for (const record of records) builder.add(record);
  return builder.finish();
}
