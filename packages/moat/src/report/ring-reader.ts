// The worker's side of the ring: turns records back into strings (ids through its copy of the serving
// thread's string tables), appends the truncation marker to cut values, and frees each record's bytes
// as soon as it is copied out.
import type { Decision } from '../engine/decision.js';
import { TRUNCATED_MARKER, recordBytes, type QueuedRecord } from '../sync/report-record.js';
import type { PassedAggregator } from './passed-aggregator.js';
import { RING_HOLD_MS, type StatusJoin } from './status-join.js';
import {
  ENTRY_RECORD, ENTRY_REPEAT, ENTRY_STATUS, FIELD, FLAG_REPEAT_BASE, LAST_STATUS, LAST_STATUS_SEQ, previousSeq, REPEAT_AT_MS, REPEAT_ID_COUNTER,
  REPEAT_PREV_STATUS, REPEAT_SEQ, SEQ_LOW_MASK, STATUS_SHIFT, FLAG_AWAITS_STATUS, FLAG_KEYS, STATUS_CODE, STATUS_SEQ, FIELD_COUNT, FLAG_PARAMS, FLAG_QUERY, FLAG_REQUEST_ID, FLAG_TRUNCATED_SHIFT, MONITORED_SHIFT, NEW_ID_BIT,
  READ_POS, REC, RECORD_HEAD_BYTES, ringViews, SLOT_LITERAL, SLOT_NULL, TRUNCATED_PARAMS_BIT, TRUNCATED_QUERY_BIT,
  TRUNCATED_REQUEST_ID_BIT, WRITE_POS, type RingViews,
} from './ring-layout.js';

/** Reset bits of the fields that make an aggregation key (ip, user agent, path, host, method). */
const KEY_FIELDS = (1 << (FIELD.method + 1)) - 1;

/** Where an entry is read from: the ring, or the reader's own copy of a repeat base (see copyBase). */
interface EntryViews {
  words: Int32Array;
  doubles: Float64Array;
  bytes: Buffer;
}

/** Shared by the records without monitor matches (most): never mutated. */
const NO_MONITORED: QueuedRecord['monitored'] = [];

export class RingReader {
  private readonly ring: RingViews;
  /** The worker's copy of each field's string table, indexed by id. */
  private readonly tables: string[][] = [];
  private readonly fields: (string | null)[] = new Array<string | null>(FIELD_COUNT).fill(null);
  private pos = 0;
  /** Entries read since the read position was last published. */
  private sincePublished = 0;
  /**
   * The record repeat entries stand for (FLAG_REPEAT_BASE), at `baseAt` in the ring while its bytes are
   * not yet handed back, else in `baseCopy` at 0 (copied just before its room is handed back); null: none.
   */
  private base: EntryViews | null = null;
  private baseAt = 0;
  private baseCopy: EntryViews | null = null;
  /** Whether the base's key below is read yet (at its first repeat: most records have none). */
  private baseReady = false;
  /** Whether the base is countable by the aggregator (a plain Passed), and its key's ids. */
  private baseCountable = false;
  private readonly baseKey = new Int32Array(5);

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

  /** Whether the last drain stopped at its `max` with entries left to read. */
  stoppedAtMax = false;

  /** The worker's clock at the current drain (records' receivedMs). */
  private now = 0;

  /** A string of the worker's table (the aggregator names its keys with these). */
  readonly stringOf = (field: number, id: number): string => this.tables[field]?.[id] ?? '';

  /**
   * Reads every published entry (at most `max` of them: records, repeats and statuses alike), in order;
   * returns how many records were handed to `onRecord`.
   * With an aggregator, Passed records it counts are skipped (see passed-aggregator.ts). With a status
   * join, a record that awaits its response status gets it from a status entry further on; one whose
   * status is not there yet stays in the ring (RING_HOLD_MS), so the drain stops at it unless `force`,
   * then waits in the join (status-join.ts).
   */
  drain(onRecord: (record: QueuedRecord) => void, max = Infinity, aggregator: PassedAggregator | null = null,
    join: StatusJoin | null = null, force = false): number {
    const { header, words, capacity } = this.ring;
    this.now = Date.now();
    // The LAST_STATUS words are read before the write position: the record they name was published before
    // them, so it lies within `end`, and a status they no longer hold was carried by an entry within it.
    const lastStatus = join === null ? 0 : Atomics.load(header, LAST_STATUS);
    const lastStatusSeq = join === null ? 0 : Atomics.load(header, LAST_STATUS_SEQ);
    const end = Atomics.load(header, WRITE_POS);
    if (join !== null) this.noteStatuses(end, join, onRecord, lastStatus, lastStatusSeq);
    let count = 0;
    let read = 0;
    const ring = this.ring;
    while (this.pos !== end && read++ < max) {
      // Every index below is inside the ring: positions are masked by its capacity, records never wrap.
      const entry = this.pos & (capacity - 1);
      const kind = words[entry >> 2]!;
      const bytes = words[(entry >> 2) + 1]!;
      if (kind === ENTRY_RECORD || kind === ENTRY_REPEAT) {
        // A record is read where it is; a repeat through its base, given the repeat's own numbers first
        // (set again if the drain stops here and comes back: nothing is counted twice).
        let src: EntryViews = ring;
        let at = entry;
        if (kind === ENTRY_REPEAT) {
          const base = this.base;
          if (base === null) { // the writer never writes one without a base; a stray one is skipped
            this.advance(bytes);
            continue;
          }
          src = base;
          at = this.baseAt;
          if (!this.baseReady) this.readyBase(base);
          src.words[(at >> 2) + REC.seq] = words[(entry >> 2) + REPEAT_SEQ]!;
          src.doubles[(at >> 3) + (REC.atMs >> 1)] = ring.doubles[(entry >> 3) + REPEAT_AT_MS]!;
          src.doubles[(at >> 3) + (REC.idCounter >> 1)] = ring.doubles[(entry >> 3) + REPEAT_ID_COUNTER]!;
        }
        const head = at >> 2;
        // Ids of a key field whose table starts afresh name other strings from here, whatever becomes of
        // this record (counted, sent in full for its status, or held): the aggregator must know at once.
        if (kind === ENTRY_RECORD && aggregator !== null && (words[head + REC.resets]! & KEY_FIELDS) !== 0) aggregator.forgetIds();
        let status = -1;
        if ((src.words[head + REC.flags]! & FLAG_AWAITS_STATUS) !== 0 && join !== null) {
          const seq = src.words[head + REC.seq]!;
          status = join.statusOf(seq);
          if (status < 0) {
            if (!force && !this.heldLongEnough()) break;
            join.hold(seq, this.decode(src, at), this.now, onRecord);
            if (kind === ENTRY_RECORD) this.noteBase(entry);
            this.advance(bytes);
            continue;
          }
        }
        // Only a success is counted: a status-less count must not hide the 404s and 401s threshold rules look for.
        if (aggregator === null || (status >= 0 && (status < 200 || status > 299)) ||
            !(kind === ENTRY_REPEAT ? this.countedRepeat(aggregator) : this.counted(entry, aggregator))) {
          const record = this.decode(src, at);
          if (status >= 0) record.status = status;
          onRecord(record);
          count++;
        }
        if (kind === ENTRY_RECORD) this.noteBase(entry);
      }
      this.advance(bytes);
    }
    this.stoppedAtMax = read > max && this.pos !== end;
    this.publish();
    return count;
  }

  private advance(bytes: number): void {
    this.pos = (this.pos + bytes) | 0;
    // Room is handed back every 64 entries, not after each: the position shares a cache line with the
    // writer's, and each store makes the serving thread's next write miss it.
    if (++this.sincePublished >= 64) this.publish();
  }

  /** Hands the room read so far back to the writer (a base still in it is copied out first). */
  private publish(): void {
    if (this.base === this.ring) this.copyBase();
    this.sincePublished = 0;
    Atomics.store(this.ring.header, READ_POS, this.pos);
  }

  /** After a record: it becomes the base of the repeat entries that may follow, or there is none. */
  private noteBase(at: number): void {
    if ((this.ring.words[(at >> 2) + REC.flags]! & FLAG_REPEAT_BASE) === 0) {
      this.base = null;
      return;
    }
    this.base = this.ring;
    this.baseAt = at;
    this.baseReady = false;
  }

  /**
   * At a base's first repeat: its reset bits are cleared, since a repeat must not clear a string table
   * again, and its key is kept, so each repeat is counted from five integers.
   */
  private readyBase(base: EntryViews): void {
    const words = base.words;
    const head = this.baseAt >> 2;
    words[head + REC.resets] = 0;
    const ids = head + REC.fields;
    const key = this.baseKey;
    for (let i = 0; i <= FIELD.method; i++) key[i] = words[ids + i]! & ~NEW_ID_BIT;
    const treatment = words[ids + FIELD.treatment]!;
    this.baseCountable = treatment >= 0 && this.tables[FIELD.treatment]?.[treatment & ~NEW_ID_BIT] === 'Passed';
    this.baseReady = true;
  }

  /** Copies the base out of the ring before its room is handed back (at most once per base). */
  private copyBase(): void {
    const words = this.ring.words;
    const from = this.baseAt >> 2;
    const length = words[from + 1]! >> 2;
    let copy = this.baseCopy;
    if (copy === null || copy.words.length < length) {
      const buffer = new ArrayBuffer(Math.max(256, 2 ** Math.ceil(Math.log2(length * 4))));
      copy = this.baseCopy = { words: new Int32Array(buffer), doubles: new Float64Array(buffer), bytes: Buffer.from(buffer) };
    }
    // Word by word: a base is a hundred bytes or so, less than a call into Buffer.copy costs.
    const to = copy.words;
    for (let i = 0; i < length; i++) to[i] = words[from + i]!;
    this.base = copy;
    this.baseAt = 0;
  }

  /** Whether the aggregator counts a repeat of the base (then it is skipped): five ids, no decoding. */
  private countedRepeat(aggregator: PassedAggregator): boolean {
    if (!this.baseCountable) return false;
    const key = this.baseKey;
    return aggregator.count(key[0]!, key[1]!, key[2]!, key[3]!, key[4]!, this.base!.doubles[(this.baseAt >> 3) + (REC.atMs >> 1)]!);
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

  /** Sequence number of the newest record or repeat seen in the ring (0: none yet); the LAST_STATUS word may name it. */
  private newestSeq = 0;

  /**
   * Reads the statuses published after the read position into the join (read again next drain: harmless):
   * status entries, the status each record or repeat carries for the entry before it, and the LAST_STATUS
   * word for the newest record, whose status no entry can carry yet.
   */
  private noteStatuses(end: number, join: StatusJoin, onRecord: (record: QueuedRecord) => void, last: number, lastSeq: number): void {
    const { words, capacity } = this.ring;
    for (let p = this.pos; p !== end;) {
      const head = (p & (capacity - 1)) >> 2;
      const kind = words[head];
      if (kind === ENTRY_REPEAT || kind === ENTRY_RECORD) {
        const seq = words[head + (kind === ENTRY_REPEAT ? REPEAT_SEQ : REC.seq)]!;
        const prevStatus = words[head + (kind === ENTRY_REPEAT ? REPEAT_PREV_STATUS : REC.prevStatus)]!;
        if (prevStatus !== 0) join.note(previousSeq(seq), prevStatus, onRecord);
        this.newestSeq = seq;
      } else if (kind === ENTRY_STATUS) {
        join.note(words[head + STATUS_SEQ]!, words[head + STATUS_CODE]!, onRecord);
      }
      p = (p + words[head + 1]!) | 0;
    }
    // Only the newest record's (every older record's status is in the ring), and only a consistent pair:
    // the writer may have been storing another record's meanwhile.
    if (last !== 0 && lastSeq === this.newestSeq && lastSeq !== 0 && (last & SEQ_LOW_MASK) === (lastSeq & SEQ_LOW_MASK)) {
      join.note(lastSeq, last >>> STATUS_SHIFT, onRecord);
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
    const ring = this.ring;
    const words = ring.words;
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
        pos = this.readString(ring, pos);
        table[slot & ~NEW_ID_BIT] = this.text;
      }
    }
    // decode() must not clear the tables a second time (it would drop strings added since).
    words[head + REC.resets] = 0;
  }

  private skipString(pos: number): number {
    return (pos + 4 + this.ring.words[pos >> 2]! + 3) & ~3;
  }

  private decode(src: EntryViews, base: number): QueuedRecord {
    const { words, doubles } = src;
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
        pos = this.readString(src, pos);
        fields[i] = this.text + ((flags & (1 << (FLAG_TRUNCATED_SHIFT + i))) !== 0 ? TRUNCATED_MARKER : '');
      } else if ((slot & NEW_ID_BIT) !== 0) {
        pos = this.readString(src, pos);
        table[slot & ~NEW_ID_BIT] = this.text;
        fields[i] = this.text;
      } else {
        // An id the worker never saw cannot come from the writer; '' keeps the record rather than crash.
        fields[i] = table[slot] ?? '';
      }
    }
    let query = '';
    if ((flags & FLAG_QUERY) !== 0) {
      pos = this.readString(src, pos);
      query = this.text + ((flags & (1 << TRUNCATED_QUERY_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    }
    let params: string | undefined;
    if ((flags & FLAG_PARAMS) !== 0) {
      pos = this.readString(src, pos);
      params = this.text + ((flags & (1 << TRUNCATED_PARAMS_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    }
    let requestId: string;
    if ((flags & FLAG_REQUEST_ID) !== 0) {
      pos = this.readString(src, pos);
      requestId = this.text + ((flags & (1 << TRUNCATED_REQUEST_ID_BIT)) !== 0 ? TRUNCATED_MARKER : '');
    } else {
      // UUID-shaped: 24 random characters of the process, then 12 hex digits of its counter.
      requestId = this.idPrefix + doubles[(base >> 3) + (REC.idCounter >> 1)]!.toString(16).padStart(12, '0');
    }
    const monitoredCount = flags >>> MONITORED_SHIFT;
    const monitored: QueuedRecord['monitored'] = monitoredCount === 0 ? NO_MONITORED : [];
    for (let m = 0; m < monitoredCount; m++) {
      pos = this.readString(src, pos);
      const category = this.text;
      pos = this.readString(src, pos);
      const rule = this.text;
      pos = this.readString(src, pos);
      monitored.push({ category, rule, ruleId: this.text });
    }
    let keys: string | undefined;
    if ((flags & FLAG_KEYS) !== 0) {
      pos = this.readString(src, pos);
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

  private readString(src: EntryViews, pos: number): number {
    const length = src.words[pos >> 2]!;
    this.text = length === 0 ? '' : src.bytes.toString('utf8', pos + 4, pos + 4 + length);
    return (pos + 4 + length + 3) & ~3;
  }
}
