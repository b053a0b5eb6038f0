// The serving thread's whole share of reporting: one record per decision, written into the shared ring
// as fixed-width numbers plus string ids, with no object allocated for a request without a query
// string (~0.25 µs a hello-world record on its own, ~0.5 µs beside a busy worker; test/report-cost.ts
// measures it); the same request again is a 32-byte repeat entry (repeats()). Parameters, JSON, gzip and HTTP happen in the worker. A record is written whole or not at all: when the ring has no room (the
// worker is behind, or restarting) the record is dropped and counted by the caller. The writer never
// wakes the worker: the worker polls (report-worker.ts). Atomics.notify to a worker parked in
// Atomics.waitAsync cost the serving thread 9 µs to several ms per call on Node 20, and did not even
// wake it (test/managed-cost.ts and docs/performance.md, "Managed mode").
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { FIELD_LIMITS, TRUNCATED_MARKER } from '../sync/report-record.js';
import {
  ALIGN, ENTRY_PAD, ENTRY_RECORD, ENTRY_REPEAT, ENTRY_STATUS, FIELD, FIELD_COUNT, FLAG_AWAITS_STATUS, FLAG_REPEAT_BASE,
  LAST_STATUS, LAST_STATUS_SEQ, MAX_FOLDED_STATUS, REPEAT_AT_MS, REPEAT_ENTRY_BYTES, REPEAT_ID_COUNTER, REPEAT_PREV_STATUS, REPEAT_SEQ, SEQ_LOW_MASK, STATUS_SHIFT, FLAG_KEYS, MAX_KEYS_LENGTH, FLAG_PARAMS, FLAG_QUERY, FLAG_REQUEST_ID, FLAG_TRUNCATED_SHIFT,
  MAX_MONITORED, MONITORED_SHIFT, NEW_ID_BIT, READ_POS, REC, RECORD_HEAD_BYTES, ringViews, SLOT_LITERAL, SLOT_NULL,
  STATUS_CODE, STATUS_ENTRY_BYTES, STATUS_SEQ, TRUNCATED_PARAMS_BIT, TRUNCATED_QUERY_BIT, TRUNCATED_REQUEST_ID_BIT, WRITE_POS,
  type RingViews,
} from './ring-layout.js';
import { StringInterner } from './string-interner.js';

/** Longest value per interned field (longer values are cut and written in the record, not interned). */
const FIELD_MAX: readonly number[] = (() => {
  const max: number[] = [];
  max[FIELD.ip] = FIELD_LIMITS.ip;
  max[FIELD.userAgent] = FIELD_LIMITS.userAgent;
  max[FIELD.path] = FIELD_LIMITS.path;
  max[FIELD.host] = FIELD_LIMITS.host;
  max[FIELD.method] = FIELD_LIMITS.method;
  max[FIELD.ipSource] = 64;
  max[FIELD.treatment] = 16;
  // The hub's upsync takes 32; bot categories (`bot-social-preview`) are longer than 16.
  max[FIELD.category] = 32;
  max[FIELD.rule] = FIELD_LIMITS.rule;
  max[FIELD.ruleId] = FIELD_LIMITS.rule;
  return max;
})();

/** Field slot of a value to intern, chosen before the record is written. */
const SLOT_NEW = -3;

/** Longest string copied by the ASCII loop; longer ones go to Buffer.write, faster per byte. */
const ASCII_COPY_MAX = 256;

/** Length a value over `max` is cut to, so that with the marker it fits; never splits a surrogate pair. */
export function cutLength(text: string, max: number): number {
  let end = Math.max(0, max - TRUNCATED_MARKER.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return end;
}

/** Upper bound of a string's bytes in the ring: its length word, then UTF-8 (3 bytes per UTF-16 unit at most). */
const stringBytes = (length: number) => 4 + 3 * length + 3;

export class RingWriter {
  private readonly ring: RingViews;
  private readonly interners: StringInterner[] = [];
  /** Per record scratch, reused: the field values and their slots. */
  private readonly values: string[] = new Array<string>(FIELD_COUNT).fill('');
  private readonly slots = new Int32Array(FIELD_COUNT);
  private idCounter = 0;
  /** Sequence number of the record written last (uint32, wrapping). */
  lastSeq = 0;
  /** Records with a value cut to its limit. */
  truncated = 0;
  /** The status of record `lastSeq`, finished and not yet carried by an entry (0: none); see holdStatus. */
  private heldStatus = 0;
  /**
   * Whether repeat entries may follow the record written last (a FLAG_REPEAT_BASE record; false after a
   * refused write or a reset, so a repeat never follows a record the worker lacks). Its string fields are
   * the interners' last values; its target, whether its rule id was null and whether it awaits a status are kept here.
   * The target is stored only when the path id repeats too: storing a young string into this long-lived
   * object costs a write barrier and a remembered-set slot (storing each field made a record that is not a
   * repeat 1.25x slower, the target alone 1.04-1.10x, interleaved blocks in one process), so a run of one
   * request starts with two full records, then repeats.
   */
  private repeatable = false;
  private prevUrl = '';
  private prevPathId = -1;
  /** The base's parameters ('' for none): decoded from the query, they are one cached string per target. */
  private prevParams = '';
  private prevRuleIdNull = true;
  private prevAwaitsStatus = false;
  /**
   * The base's decision, when it may stand for the next one by identity: decisions are never changed once
   * made, and a quiet request's is the engine's one shared Passed decision, so a repeat is told from it by
   * one comparison instead of five fields (another decision with the same fields still repeats).
   */
  private prevDecision: Decision | null = null;
  /**
   * WRITE_POS as this writer last published it (only the writer moves it), and READ_POS as last read: the
   * worker only moves READ_POS forward, so an old value only under-counts the room, and it is read again
   * only when the room it shows is short. On Node 20 an Atomics.load is a builtin call (~60 instructions,
   * counted), and every entry made two.
   */
  private writePos: number;
  private readPos: number;

  constructor(sab: SharedArrayBuffer) {
    this.ring = ringViews(sab);
    this.writePos = Atomics.load(this.ring.header, WRITE_POS);
    this.readPos = Atomics.load(this.ring.header, READ_POS);
    for (let i = 0; i < FIELD_COUNT; i++) this.interners.push(new StringInterner());
  }

  /** Forgets every interned string: the worker that knew them is gone (the ring is emptied with it). */
  reset(): void {
    for (const interner of this.interners) interner.reset();
    this.repeatable = false;
    this.heldStatus = 0;
    this.ring.header[LAST_STATUS] = 0;
    this.ring.header[LAST_STATUS_SEQ] = 0;
    this.readPos = this.writePos;
    Atomics.store(this.ring.header, READ_POS, this.writePos);
  }

  /**
   * Writes one record; false when the ring has no room for it (nothing written). `awaitsStatus`: a
   * status entry for it will follow (writeStatus with `lastSeq`), and the worker waits a while for it.
   */
  write(decision: Decision, request: MoatHttpRequest, atMs: number, awaitsStatus = false): boolean {
    // One compare of the target decides most non-repeats. Apart from writeRecord: V8 optimises a function
    // after a number of calls that grows with its size, and this one, run whole, stayed unoptimised for
    // tens of thousands of repeats (counted under callgrind).
    if (request.url === this.prevUrl && this.repeatable && this.repeats(decision, request, awaitsStatus)) return this.writeRepeat(atMs);
    return this.writeRecord(decision, request, atMs, awaitsStatus);
  }

  /** A record in full (not a repeat of the previous one). */
  private writeRecord(decision: Decision, request: MoatHttpRequest, atMs: number, awaitsStatus: boolean): boolean {
    // Whether the target is the previous record's: tells the record whether to keep it for repeats.
    const sameUrl = request.url === this.prevUrl;
    const { values, slots, interners } = this;
    values[FIELD.ip] = request.ip;
    values[FIELD.userAgent] = request.userAgent ?? '';
    values[FIELD.path] = request.path;
    values[FIELD.host] = request.host ?? '';
    values[FIELD.method] = request.method;
    values[FIELD.ipSource] = request.ipSource;
    values[FIELD.treatment] = decision.treatment;
    values[FIELD.category] = decision.category;
    values[FIELD.rule] = decision.rule;
    values[FIELD.ruleId] = decision.ruleId ?? '';

    // Pass 1: ids of known values, and the room the record needs at most.
    let need = RECORD_HEAD_BYTES;
    // Indexes below FIELD_COUNT, the length of values, slots, interners and FIELD_MAX: `!` is safe here.
    for (let i = 0; i < FIELD_COUNT; i++) {
      const value = values[i]!;
      const max = FIELD_MAX[i]!;
      if (i === FIELD.ruleId && decision.ruleId === null) {
        slots[i] = SLOT_NULL;
      } else if (value.length > max) {
        slots[i] = SLOT_LITERAL;
        need += stringBytes(max);
      } else {
        const id = interners[i]!.find(value);
        slots[i] = id >= 0 ? id : SLOT_NEW;
        if (id < 0) need += stringBytes(value.length);
      }
    }
    // The query is read only when the target has one: most requests carry none and cost no copy.
    const url = request.url;
    const q = url.indexOf('?');
    const hasQuery = q >= 0 && q < url.length - 1;
    if (hasQuery) need += stringBytes(Math.min(url.length - q - 1, FIELD_LIMITS.target));
    const params = request.params;
    const hasParams = params !== undefined && params !== '';
    if (hasParams) need += stringBytes(Math.min(params.length, FIELD_LIMITS.params));
    const requestId = requestIdOf(request);
    if (requestId !== null) need += stringBytes(Math.min(requestId.length, FIELD_LIMITS.requestId));
    const monitored = decision.monitored;
    const monitoredCount = Math.min(monitored.length, MAX_MONITORED);
    for (let m = 0; m < monitoredCount; m++) {
      const match = monitored[m]!; // m < monitored.length
      need += stringBytes(match.category.length) + stringBytes(Math.min(match.rule.length, FIELD_LIMITS.rule)) +
        stringBytes(Math.min(match.ruleId.length, FIELD_LIMITS.rule));
    }
    // Only with a rules file that asks for keys, on a request that has one (engine: withReportKeys).
    const keys = decision.reportKeys;
    const hasKeys = keys !== undefined && keys.length <= MAX_KEYS_LENGTH;
    if (hasKeys) need += stringBytes(keys.length);
    need = (need + ALIGN - 1) & ~(ALIGN - 1);

    // Room: contiguous, so a record never wraps (the tail is skipped with a pad entry when too short).
    const { header, words, doubles, capacity } = this.ring;
    let w = this.writePos;
    let base = w & (capacity - 1);
    const toEnd = capacity - base;
    const free = this.roomFor(need > toEnd ? toEnd + need : need);
    if (need > toEnd) {
      if (free < toEnd + need) {
        this.repeatable = false;
        return false;
      }
      words[base >> 2] = ENTRY_PAD;
      words[(base >> 2) + 1] = toEnd;
      w = (w + toEnd) | 0;
      base = 0;
    } else if (free < need) {
      this.repeatable = false;
      return false;
    }

    // Pass 2: the record.
    const head = base >> 2;
    let flags = 0;
    let resets = 0;
    let pos = base + RECORD_HEAD_BYTES;
    for (let i = 0; i < FIELD_COUNT; i++) {
      const slot = slots[i];
      if (slot === SLOT_NEW) {
        const value = values[i]!;
        const interner = interners[i]!;
        if (interner.needsReset(value)) {
          interner.reset();
          resets |= 1 << i;
        }
        words[head + REC.fields + i] = NEW_ID_BIT | interner.add(value);
        pos = this.putString(pos, value, value.length);
      } else if (slot === SLOT_LITERAL) {
        words[head + REC.fields + i] = SLOT_LITERAL;
        const value = values[i]!;
        pos = this.putString(pos, value, cutLength(value, FIELD_MAX[i]!));
        flags |= 1 << (FLAG_TRUNCATED_SHIFT + i);
      } else {
        words[head + REC.fields + i] = slot!;
      }
    }
    if (hasQuery) {
      flags |= FLAG_QUERY;
      // Copied out of the URL in place: no substring for the common query within its limit.
      const queryLength = url.length - q - 1;
      if (queryLength > FIELD_LIMITS.target) {
        flags |= 1 << TRUNCATED_QUERY_BIT;
        const query = url.slice(q + 1);
        pos = this.putString(pos, query, cutLength(query, FIELD_LIMITS.target));
      } else {
        pos = this.putString(pos, url, queryLength, q + 1);
      }
    }
    if (hasParams) {
      flags |= FLAG_PARAMS;
      if (params.length > FIELD_LIMITS.params) flags |= 1 << TRUNCATED_PARAMS_BIT;
      pos = this.putString(pos, params, params.length > FIELD_LIMITS.params ? cutLength(params, FIELD_LIMITS.params) : params.length);
    }
    if (requestId !== null) {
      flags |= FLAG_REQUEST_ID;
      if (requestId.length > FIELD_LIMITS.requestId) flags |= 1 << TRUNCATED_REQUEST_ID_BIT;
      pos = this.putString(pos, requestId, requestId.length > FIELD_LIMITS.requestId ? cutLength(requestId, FIELD_LIMITS.requestId) : requestId.length);
    } else {
      doubles[(base >> 3) + (REC.idCounter >> 1)] = ++this.idCounter;
    }
    for (let m = 0; m < monitoredCount; m++) {
      const match = monitored[m]!;
      pos = this.putString(pos, match.category, match.category.length);
      pos = this.putString(pos, match.rule, match.rule.length > FIELD_LIMITS.rule ? cutLength(match.rule, FIELD_LIMITS.rule) : match.rule.length);
      pos = this.putString(pos, match.ruleId, match.ruleId.length > FIELD_LIMITS.rule ? cutLength(match.ruleId, FIELD_LIMITS.rule) : match.ruleId.length);
    }
    if ((flags & ~(FLAG_QUERY | FLAG_PARAMS | FLAG_REQUEST_ID)) !== 0) this.truncated++;
    if (hasKeys) {
      flags |= FLAG_KEYS;
      pos = this.putString(pos, keys, keys.length);
    }
    if (awaitsStatus) flags |= FLAG_AWAITS_STATUS;
    // Only ids, the query and the parameters: what a repeat entry can stand for (truncation bits lie between the
    // query/params/request-id bits and FLAG_KEYS).
    let repeatable = (flags & ~(FLAG_QUERY | FLAG_PARAMS | FLAG_AWAITS_STATUS)) === 0 && monitoredCount === 0;
    if (repeatable) {
      // Repeats need this record's target and parameters kept. They are stored only when the path id
      // repeats too (see prevUrl): a run's first record is not a base, so alternating traffic stores nothing.
      const pathId = words[head + REC.fields + FIELD.path]! & ~NEW_ID_BIT;
      const paramText = hasParams ? params : '';
      if (!sameUrl || paramText !== this.prevParams) {
        if (pathId === this.prevPathId) {
          this.prevUrl = request.url;
          this.prevParams = paramText;
        } else {
          repeatable = false;
        }
      }
      this.prevPathId = pathId;
      this.prevRuleIdNull = decision.ruleId === null;
      this.prevAwaitsStatus = awaitsStatus;
      // Repeatable: no monitor matches; a decision with keys (always written) never stands for another.
      const standsFor = repeatable && decision.reportKeys === undefined ? decision : null;
      if (standsFor !== this.prevDecision) this.prevDecision = standsFor;
    } else {
      this.prevPathId = -1;
    }
    if (repeatable) flags |= FLAG_REPEAT_BASE;
    this.repeatable = repeatable;
    words[head + REC.flags] = flags | (monitoredCount << MONITORED_SHIFT);
    // Never 0: the worker's table of statuses starts zeroed (status-join.ts).
    const seq = ((this.lastSeq + 1) | 0) || 1;
    this.lastSeq = seq;
    words[head + REC.seq] = seq;
    words[head + REC.resets] = resets;
    words[head + REC.prevStatus] = this.heldStatus;
    this.heldStatus = 0;
    doubles[(base >> 3) + (REC.atMs >> 1)] = atMs;
    const bytes = ((pos - base) + ALIGN - 1) & ~(ALIGN - 1);
    words[head + REC.kind] = ENTRY_RECORD;
    words[head + REC.bytes] = bytes;
    this.publish(header, (w + bytes) | 0);
    return true;
  }

  /**
   * Whether this request, whose target (so whose query) is the previous record's, is that record again: the same
   * strings in every field, the same parameters and nothing a repeat cannot carry. The strings are compared with the interners'
   * last values, which are the previous record's (every field of a base is interned): the same compares
   * pass 1 makes, without the interning and the copies that follow them.
   */
  private repeats(decision: Decision, request: MoatHttpRequest, awaitsStatus: boolean): boolean {
    const it = this.interners;
    if (awaitsStatus !== this.prevAwaitsStatus || request.path !== it[FIELD.path]!.last ||
        request.ip !== it[FIELD.ip]!.last || (request.userAgent ?? '') !== it[FIELD.userAgent]!.last ||
        (request.host ?? '') !== it[FIELD.host]!.last || request.method !== it[FIELD.method]!.last ||
        request.ipSource !== it[FIELD.ipSource]!.last) return false;
    if (decision !== this.prevDecision) {
      if (decision.treatment !== it[FIELD.treatment]!.last || decision.category !== it[FIELD.category]!.last ||
        decision.rule !== it[FIELD.rule]!.last) return false;
      const ruleId = decision.ruleId;
      if (ruleId === null ? !this.prevRuleIdNull : this.prevRuleIdNull || ruleId !== it[FIELD.ruleId]!.last) return false;
      if (decision.monitored.length !== 0 || decision.reportKeys !== undefined) return false;
    }
    const params = request.params;
    return (params === undefined ? '' : params) === this.prevParams && requestIdOf(request) === null;
  }

  /** A repeat entry: its own sequence number, time and request-id counter; false when the ring has no room. */
  private writeRepeat(atMs: number): boolean {
    const { header, words, doubles, capacity } = this.ring;
    let w = this.writePos;
    let base = w & (capacity - 1);
    const toEnd = capacity - base;
    const free = this.roomFor(toEnd < REPEAT_ENTRY_BYTES ? toEnd + REPEAT_ENTRY_BYTES : REPEAT_ENTRY_BYTES);
    if (toEnd < REPEAT_ENTRY_BYTES) {
      if (free < toEnd + REPEAT_ENTRY_BYTES) return this.refuseRepeat();
      words[base >> 2] = ENTRY_PAD;
      words[(base >> 2) + 1] = toEnd;
      w = (w + toEnd) | 0;
      base = 0;
    } else if (free < REPEAT_ENTRY_BYTES) {
      return this.refuseRepeat();
    }
    const head = base >> 2;
    const seq = ((this.lastSeq + 1) | 0) || 1;
    this.lastSeq = seq;
    words[head + REPEAT_SEQ] = seq;
    words[head + REPEAT_PREV_STATUS] = this.heldStatus;
    this.heldStatus = 0;
    doubles[(base >> 3) + REPEAT_AT_MS] = atMs;
    doubles[(base >> 3) + REPEAT_ID_COUNTER] = ++this.idCounter;
    words[head] = ENTRY_REPEAT;
    words[head + 1] = REPEAT_ENTRY_BYTES;
    this.publish(header, (w + REPEAT_ENTRY_BYTES) | 0);
    return true;
  }

  private refuseRepeat(): boolean {
    this.repeatable = false;
    return false;
  }

  /**
   * The response status of the record written last (`seq` === lastSeq), carried by the next record or
   * repeat entry and meanwhile by the ring's LAST_STATUS words, instead of an entry of its own: a response
   * that ends before the next request is judged (nearly all of them) costs three plain stores. False when `seq`
   * is not the last record or the status does not fit; the caller then writes a status entry.
   */
  holdStatus(seq: number, status: number): boolean {
    if (seq !== this.lastSeq || status <= 0 || status > MAX_FOLDED_STATUS) return false;
    this.heldStatus = status;
    // Plain stores (no fence): an aligned word is never seen half written, the reader checks that the two
    // name the same record, and a reader that misses them finds the status in the next entry or drain.
    const header = this.ring.header;
    header[LAST_STATUS_SEQ] = seq;
    header[LAST_STATUS] = (status << STATUS_SHIFT) | (seq & SEQ_LOW_MASK);
    return true;
  }

  /**
   * Writes the response status of record `seq`; false when the ring has no room (the record then goes
   * without it: not a loss, the worker stops waiting after a while).
   */
  writeStatus(seq: number, status: number): boolean {
    const { header, words, capacity } = this.ring;
    let w = this.writePos;
    let base = w & (capacity - 1);
    const toEnd = capacity - base;
    const free = this.roomFor(toEnd < STATUS_ENTRY_BYTES ? toEnd + STATUS_ENTRY_BYTES : STATUS_ENTRY_BYTES);
    if (toEnd < STATUS_ENTRY_BYTES) {
      if (free < toEnd + STATUS_ENTRY_BYTES) return false;
      words[base >> 2] = ENTRY_PAD;
      words[(base >> 2) + 1] = toEnd;
      w = (w + toEnd) | 0;
      base = 0;
    } else if (free < STATUS_ENTRY_BYTES) {
      return false;
    }
    const head = base >> 2;
    words[head + STATUS_SEQ] = seq;
    words[head + STATUS_CODE] = status;
    words[head] = ENTRY_STATUS;
    words[head + 1] = STATUS_ENTRY_BYTES;
    this.publish(header, (w + STATUS_ENTRY_BYTES) | 0);
    return true;
  }

  /** Free bytes in the ring: by the READ_POS read last, read again when that shows fewer than `want`. */
  private roomFor(want: number): number {
    const capacity = this.ring.capacity;
    const free = capacity - ((this.writePos - this.readPos) >>> 0);
    if (free >= want) return free;
    this.readPos = Atomics.load(this.ring.header, READ_POS);
    return capacity - ((this.writePos - this.readPos) >>> 0);
  }

  /** Publishes every entry written up to `end` (the worker reads WRITE_POS with Atomics.load). */
  private publish(header: Int32Array, end: number): void {
    this.writePos = end;
    Atomics.store(header, WRITE_POS, end);
  }

  /** Writes `length` characters of `text` from `from` at `pos`: length word, UTF-8; returns the next 4-byte boundary. */
  private putString(pos: number, text: string, length: number, from = 0): number {
    const bytes = this.ring.bytes;
    // ASCII (nearly every query, parameter string and id) is copied a unit a byte: Buffer.write's
    // argument checks and call into C++ were a third of the record's cost (profiled, hello world).
    if (length <= ASCII_COPY_MAX) {
      const start = pos + 4;
      let i = 0;
      for (; i < length; i++) {
        const unit = text.charCodeAt(from + i);
        if (unit >= 0x80) break;
        bytes[start + i] = unit;
      }
      if (i === length) {
        this.ring.words[pos >> 2] = length;
        return (start + length + 3) & ~3;
      }
    }
    const part = from === 0 && length === text.length ? text : text.slice(from, from + length);
    // Lone surrogates become U+FFFD here (3 bytes for one unit, within the bound reserved above).
    const written = part.length === 0 ? 0 : bytes.write(part, pos + 4, 'utf8');
    this.ring.words[pos >> 2] = written;
    return (pos + 4 + written + 3) & ~3;
  }
}

function requestIdOf(request: MoatHttpRequest): string | null {
  const headers = request.headers;
  // One load by a constant name per header, not a loop over an array of names: each such load keeps its
  // own inline cache for the headers' shape, where the loop's one keyed load saw four names and went
  // megamorphic. Every record and every repeat check reads all four: 121 → 78 ns a repeated record (A/B).
  let value = headers['x-request-id'];
  if (typeof value === 'string' && value !== '') return value;
  value = headers['x-amzn-trace-id'];
  if (typeof value === 'string' && value !== '') return value;
  value = headers['cf-ray'];
  if (typeof value === 'string' && value !== '') return value;
  value = headers['fly-request-id'];
  return typeof value === 'string' && value !== '' ? value : null;
}
