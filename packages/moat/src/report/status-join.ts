// Joins each record with its response status. The serving thread writes a record when it decides and,
// when the response has finished, a status entry naming the record's sequence number (ring-writer.ts);
// both travel through the ring in that order. Most statuses follow their record within a millisecond,
// so the reader waits for them in the ring itself (a short stop, RING_HOLD_MS); a record whose response
// takes longer is taken out and waits here, bounded in time (`waitMs`) and in number, then goes out
// without a status, counted (statusMissing). Each record is handed on exactly once: with its status,
// or without it when the wait ends, never both.
import type { QueuedRecord } from '../sync/report-record.js';
import { COUNTER } from './ring-layout.js';
import { addToCounter } from './shared-counters.js';

/** How long the reader leaves a record in the ring for its status before taking it out to wait here. */
export const RING_HOLD_MS = 20;
/** Records waiting here at most; past it the oldest goes without its status. */
export const MAX_AWAITING = 4096;
/** Statuses remembered per drain, by sequence number modulo this (a power of two). */
const WINDOW = 1 << 16;

export class StatusJoin {
  private readonly statuses = new Int32Array(WINDOW);
  private readonly tags = new Int32Array(WINDOW);
  private readonly awaiting = new Map<number, { record: QueuedRecord; sinceMs: number }>();

  constructor(private readonly waitMs: number, private readonly counters: Float64Array) {}

  /** A status entry read from the ring: completes a waiting record (handed to `emit`), or is kept for its record. */
  note(seq: number, status: number, emit: (record: QueuedRecord) => void): void {
    // Nearly always none waits here (statuses come within the ring's hold): no Map lookup per entry then.
    const waiting = this.awaiting.size === 0 ? undefined : this.awaiting.get(seq);
    if (waiting !== undefined) {
      this.awaiting.delete(seq);
      this.publish();
      waiting.record.status = status;
      emit(waiting.record);
      return;
    }
    const slot = seq & (WINDOW - 1);
    this.tags[slot] = seq;
    this.statuses[slot] = status;
  }

  /** The status noted for record `seq`, or -1. */
  statusOf(seq: number): number {
    const slot = seq & (WINDOW - 1);
    return this.tags[slot] === seq ? this.statuses[slot] ?? -1 : -1;
  }

  /** A record taken from the ring before its status came: it waits here (the oldest goes on when full). */
  hold(seq: number, record: QueuedRecord, nowMs: number, emit: (record: QueuedRecord) => void): void {
    if (this.awaiting.size >= MAX_AWAITING) this.release(1, emit);
    this.awaiting.set(seq, { record, sinceMs: nowMs });
    this.publish();
  }

  /** Hands on, without a status, the records that waited `waitMs` (Map order is arrival order). */
  expire(nowMs: number, emit: (record: QueuedRecord) => void): void {
    let due = 0;
    for (const waiting of this.awaiting.values()) {
      if (nowMs - waiting.sinceMs < this.waitMs) break;
      due++;
    }
    if (due > 0) this.release(due, emit);
  }

  /** Hands on every waiting record without its status (the worker closes). */
  releaseAll(emit: (record: QueuedRecord) => void): void {
    this.release(this.awaiting.size, emit);
  }

  get size(): number {
    return this.awaiting.size;
  }

  private release(count: number, emit: (record: QueuedRecord) => void): void {
    const out: QueuedRecord[] = [];
    for (const [seq, waiting] of this.awaiting) {
      if (out.length >= count) break;
      this.awaiting.delete(seq);
      out.push(waiting.record);
    }
    addToCounter(this.counters, COUNTER.statusMissing, out.length);
    this.publish();
    for (const record of out) emit(record);
  }

  private publish(): void {
    this.counters[COUNTER.awaitingStatus] = this.awaiting.size;
  }
}
