// The worker's side of the ring: turns records back into strings (ids through its copy of the serving
// thread's string tables), appends the truncation marker to cut values, and frees each record's bytes
// as soon as it is copied out.
import type { Decision } from '../engine/decision.js';
import { TRUNCATED_MARKER, recordBytes, type QueuedRecord } from '../sync/report-record.js';
import type { PassedAggregator } from './passed-aggregator.js';
import { RING_HOLD_MS, type StatusJoin } from './status-join.js';
import {
  ENTRY_RECORD, ENTRY_STATUS, FIELD, FLAG_AWAITS_STATUS, FLAG_KEYS, STATUS_CODE, STATUS_SEQ, FIELD_COUNT, FLAG_PARAMS, FLAG_QUERY, FLAG_REQUEST_ID, FLAG_TRUNCATED_SHIFT, MONITORED_SHIFT, NEW_ID_BIT,
  READ_POS, REC, RECORD_HEAD_BYTES, ringViews, SLOT_LITERAL, SLOT_NULL, TRUNCATED_PARAMS_BIT, TRUNCATED_QUERY_BIT,
  TRUNCATED_REQUEST_ID_BIT, WRITE_POS, type RingViews,
} from './ring-layout.js';

/** Reset bits of the fields that make an aggregation key (ip, user agent, path, host, method). */
const KEY_FIELDS = (1 << (FIELD.method + 1)) - 1;

/** Shared by the records without monitor matches (most): never mutated. */
const NO_MONITORED: QueuedRecord['monitored'] = [];

export class RingReader {
  private readonly ring: RingViews;
  /** The worker's copy of each field's string table, indexed by id. */
  private readonly tables: string[][] = [];
  private readonly fields: (string | null)[] = new Array<string | null>(FIELD_COUNT).fill(null);
  private pos = 0;

  /** `idPrefix`: the first 24 characters of generated request ids (a counter in the record follows). */
  constructor(sab: SharedArrayBuffer, private readonly idPrefix: string) {
    this.ring = ringViews(sab);
    for (let i = 0; i < FIELD_COUNT; i++) this.tables.push([]);
    this.pos = Atomics.load(this.ring.header, READ_POS);
  }

  /** Ring position read up to (bytes, wrapping at 2^32): the worker paces its drains on its progress. */
  get position(): number {
    return this.pos;
  }

  /** The worker's clock at the current drain (records' receivedMs). */
  private now = 0;

  /** A string of the worker's table (the aggregator names its keys with these). */
  readonly stringOf = (field: number, id: number): string => this.tables[field]?.[id] ?? '';

  /**
   * Reads every published record (up to `max`), in order; returns how many were handed to `onRecord`.
   * With an aggregator, Passed records it counts are skipped (see passed-aggregator.ts). With a status
   * join, a record that awaits its response status gets it from a status entry further on; one whose
   * status is not there yet stays in the ring (RING_HOLD_MS), so the drain stops at it unless `force`,
   * then waits in the join (status-join.ts).
   */
  drain(onRecord: (record: QueuedRecord) => void, max = Infinity, aggregator: PassedAggregator | null = null,
    join: StatusJoin | null = null, force = false): number {
    const { header, words, capacity } = this.ring;
    this.now = Date.now();
    const end = Atomics.load(header, WRITE_POS);
    if (join !== null) this.noteStatuses(end, join, onRecord);
    let count = 0;
    while (this.pos !== end && count < max) {
      // Every index below is inside the ring: positions are masked by its capacity, records never wrap.
      const base = this.pos & (capacity - 1);
      const kind = words[base >> 2]!;
      const bytes = words[(base >> 2) + 1]!;
      if (kind === ENTRY_RECORD) {
        const head = base >> 2;
        let status = -1;
        if ((words[head + REC.flags]! & FLAG_AWAITS_STATUS) !== 0 && join !== null) {
          const seq = words[head + REC.seq]!;
          status = join.statusOf(seq);
          if (status < 0) {
            if (!force && !this.heldLongEnough()) break;
            join.hold(seq, this.decode(base), this.now, onRecord);
            this.advance(bytes, count);
            continue;
          }
        }
        // Only a success is counted: a status-less count must not hide the 404s and 401s threshold rules look for.
        if (aggregator === null || (status >= 0 && (status < 200 || status > 299)) || !this.counted(base, aggregator)) {
          const record = this.decode(base);
          if (status >= 0) record.status = status;
          onRecord(record);
          count++;
        }
      }
      this.advance(bytes, count);
    }
    Atomics.store(header, READ_POS, this.pos);
    return count;
  }

  private advance(bytes: number, count: number): void {
    this.pos = (this.pos + bytes) | 0;
    // Room is handed back every 64 records, not after each: the position shares a cache line with the
    // writer's, and each store makes the serving thread's next write miss it.
    if ((count & 63) === 0) Atomics.store(this.ring.header, READ_POS, this.pos);
  }

  /** Where the drain last stopped for a status, and since when (the worker's clock). */
  private heldPos = -1;
  private heldSinceMs = 0;

  /** Whether the record at the read position has waited in the ring for its status long enough. */
  private heldLongEnough(): boolean {
    if (this.heldPos !== this.pos) {
      this.heldPos = this.pos;
      this.heldSinceMs = this.now;
    }
    return this.now - this.heldSinceMs >= RING_HOLD_MS;
  }

  /** Reads the status entries published after the read position into the join (read again next drain: harmless). */
  private noteStatuses(end: number, join: StatusJoin, onRecord: (record: QueuedRecord) => void): void {
    const { words, capacity } = this.ring;
    for (let p = this.pos; p !== end;) {
      const head = (p & (capacity - 1)) >> 2;
      if (words[head] === ENTRY_STATUS) join.note(words[head + STATUS_SEQ]!, words[head + STATUS_CODE]!, onRecord);
      p = (p + words[head + 1]!) | 0;
    }
  }

  /**
   * Whether the aggregator counts the record at `base` (then it is skipped). Read from the record's
   * ids alone, without decoding it: this is most records, and decoding (strings, an object, a request
   * id) was the worker's largest cost per record. A record that brings new strings or starts a table
   * afresh is first decoded for its strings' sake (decodeTables), which is rare.
   */
  private counted(base: number, aggregator: PassedAggregator): boolean {
    const words = this.ring.words;
    const head = base >> 2;
    const resets = words[head + REC.resets]!;
    // Whatever becomes of this record, ids of a key field that starts afresh name other strings from here.
    if ((resets & KEY_FIELDS) !== 0) aggregator.forgetIds();
    const flags = words[head + REC.flags]!;
    if ((flags >>> MONITORED_SHIFT) !== 0) return false;
    // A record with reported keys is sent whole: a count has no place for the key the hub counts by.
    if ((flags & FLAG_KEYS) !== 0) return false;
    const treatment = words[head + REC.fields + FIELD.treatment]! & ~NEW_ID_BIT;
    let fresh = resets !== 0;
    for (let i = 0; i < FIELD_COUNT; i++) {
      const slot = words[head + REC.fields + i]!;
      if (slot >= 0 && (slot & NEW_ID_BIT) !== 0) fresh = true;
      // Key fields and the treatment must be interned (not cut, not null) to be counted.
      else if (i <= FIELD.method && slot < 0) return false;
    }
    if (fresh) this.decodeTables(base);
    if (treatment < 0 || this.tables[FIELD.treatment]?.[treatment] !== 'Passed') return false;
    const ids = head + REC.fields;
    return aggregator.count(words[ids + FIELD.ip]! & ~NEW_ID_BIT, words[ids + FIELD.userAgent]! & ~NEW_ID_BIT, words[ids + FIELD.path]! & ~NEW_ID_BIT,
      words[ids + FIELD.host]! & ~NEW_ID_BIT, words[ids + FIELD.method]! & ~NEW_ID_BIT, this.ring.doubles[(base >> 3) + (REC.atMs >> 1)]!);
  }

  /**
   * Applies a record's table changes (resets, new strings) without building it; decode() later, if
   * the record is sent in full, finds the strings in the tables (its NEW ids are then set again, to
   * the same strings).
   */
  private decodeTables(base: number): void {
    const words = this.ring.words;
    const head = base >> 2;
    const resets = words[head + REC.resets]!;
    let pos = base + RECORD_HEAD_BYTES;
    for (let i = 0; i < FIELD_COUNT; i++) {
      const table = this.tables[i]!; // one table per field
      if ((resets & (1 << i)) !== 0) table.length = 0;
      const slot = words[head + REC.fields + i]!;
      if (slot === SLOT_LITERAL) {
        pos = this.skipString(pos);
      } else if (slot >= 0 && (slot & NEW_ID_BIT) !== 0) {
        pos = this.readString(pos);
        table[slot & ~NEW_ID_BIT] = this.text;
      }
    }
    // decode() must not clear the tables a second time (it would drop strings added since).
    words[head + REC.resets] = 0;
  }

  private skipString(pos: number): number {
    return (pos + 4 + this.ring.words[pos >> 2]! + 3) & ~3;
  }

  private decode(base: number): QueuedRecord {
    const { words, doubles } = this.ring;
    const head = base >> 2;
    const flags = words[head + REC.flags]!;
    const resets = words[head + REC.resets]!;
    let pos = base + RECORD_HEAD_BYTES;
    const fields = this.fields;
    for (let i = 0; i < FIELD_COUNT; i++) {
      const table = this.tables[i]!; // one table per field
      if ((resets & (1 << i)) !== 0) table.length = 0;
      const slot = words[head + REC.fields + i]!;
      if (slot === SLOT_NULL) {
        fields[i] = null;
      } else if (slot === SLOT_LITERAL) {
        pos = this.readString(pos);
        fields[i] = this.text + ((flags & (1 << (FLAG_TRUNCATED_SHIFT + i))) !== 0 ? TRUNCATED_MARKER : '');
      } else if ((slot & NEW_ID_BIT) !== 0) {
        pos = this.readString(pos);
        table[slot & ~NEW_ID_BIT] = this.text;
        fields[i] = this.text;
      } else {
        // An id the worker never saw cannot come from the writer; '' keeps the record rather than crash.
        fields[i] = table[slot] ?? '';
      }
    }
    let query = '';
    if ((flags & FLAG_QUERY) !== 0) {
      pos = this.readString(pos);
      query = this.text + ((flags & (1 << TRUNCATED_QUERY_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    }
    let params: string | undefined;
    if ((flags & FLAG_PARAMS) !== 0) {
      pos = this.readString(pos);
      params = this.text + ((flags & (1 << TRUNCATED_PARAMS_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    }
    let requestId: string;
    if ((flags & FLAG_REQUEST_ID) !== 0) {
      pos = this.readString(pos);
      requestId = this.text + ((flags & (1 << TRUNCATED_REQUEST_ID_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    } else {
      // UUID-shaped: 24 random characters of the process, then 12 hex digits of its counter.
      requestId = this.idPrefix + doubles[(base >> 3) + (REC.idCounter >> 1)]!.toString(16).padStart(12, '0');
    }
    const monitoredCount = flags >>> MONITORED_SHIFT;
    const monitored: QueuedRecord['monitored'] = monitoredCount === 0 ? NO_MONITORED : [];
    for (let m = 0; m < monitoredCount; m++) {
      pos = this.readString(pos);
      const category = this.text;
      pos = this.readString(pos);
      const rule = this.text;
      pos = this.readString(pos);
      monitored.push({ category, rule, ruleId: this.text });
    }
    let keys: string | undefined;
    if ((flags & FLAG_KEYS) !== 0) {
      pos = this.readString(pos);
      keys = this.text;
    }
    const record: QueuedRecord = {
      ip: fields[FIELD.ip] ?? '', ipSource: fields[FIELD.ipSource] ?? '', userAgent: fields[FIELD.userAgent] ?? '',
      path: fields[FIELD.path] ?? '', host: fields[FIELD.host] ?? '', method: fields[FIELD.method] ?? '', requestId,
      atMs: doubles[(base >> 3) + (REC.atMs >> 1)]!,
      treatment: (fields[FIELD.treatment] ?? 'Passed') as Decision['treatment'], category: (fields[FIELD.category] ?? 'passed') as Decision['category'],
      rule: fields[FIELD.rule] ?? '', ruleId: fields[FIELD.ruleId] ?? null, monitored, query, params, bytes: 0, receivedMs: this.now,
    };
    if (keys !== undefined) record.keys = keys;
    record.bytes = recordBytes(record);
    return record;
  }

  /** The string read last (readString returns the next position; this avoids a pair object per string). */
  private text = '';

  private readString(pos: number): number {
    const length = this.ring.words[pos >> 2]!;
    this.text = length === 0 ? '' : this.ring.bytes.toString('utf8', pos + 4, pos + 4 + length);
    return (pos + 4 + length + 3) & ~3;
  }
}
