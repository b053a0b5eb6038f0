// Passed requests counted instead of sent one by one. Nearly all traffic is Passed, and most of it
// repeats (one client, one path, one user agent, many requests): sending each in full is what made
// reporting cost a server 6–13 µs of CPU a request (docs/performance.md, "Reporting"). In the worker,
// a Passed record without monitor matches is looked up by the interned ids of its key (ip, user agent,
// path, host, method) in the current window. The first record of each key per window is still sent in
// full, as are a few more a second overall (the request log's examples); the rest only add one to the
// key's count. When the window closes (its minute ends, or the flush interval passes) each count goes
// to the sender as one entry, so the hub's totals stay exact while its request log holds a sample.
// Blocked, allowed and monitored decisions never come here: they are always sent in full.
import { COUNTER } from './ring-layout.js';
import { addToCounter } from './shared-counters.js';
import { MAX_INTERNED } from './string-interner.js';
import type { QueuedRecord } from '../sync/report-record.js';

/** Keys per window at most; records of further keys are sent in full (bounded memory, nothing lost). */
export const MAX_AGGREGATE_KEYS = 4096;
/** Largest count of one entry, as the hub accepts it; a key that reaches it is sent in full until the window closes. */
export const MAX_AGGREGATE_COUNT = 10_000_000;
/** Further Passed records sent in full per second, besides each key's first (the request log's sample). */
export const DEFAULT_PASSED_SAMPLES_PER_SECOND = 10;

/** Fields of a key, as ring-layout.ts FIELD numbers them. */
export interface KeyStrings {
  ip: string;
  userAgent: string;
  path: string;
  host: string;
  method: string;
}

interface Entry extends KeyStrings {
  hostId: number;
  methodId: number;
  /** Time of the first request counted (ms); its minute is the entry's. */
  atMs: number;
  count: number;
}

/** ids < MAX_INTERNED (2^12): ip, user agent and path pack into one exact number of 36 bits. */
const ID_SPAN = MAX_INTERNED;

export class PassedAggregator {
  /** Entries of the window by (ip, user agent, path); host and method told apart in the short list. */
  private index = new Map<number, Entry[]>();
  private entries: Entry[] = [];
  private windowMinute = -1;
  private windowOpenedMs = 0;
  private sampleSecond = -1;
  private samplesLeft = 0;
  /** Requests counted in the open window (not yet handed to the sender). */
  private pending = 0;
  /**
   * The previous record's key and entry: one client repeating one request is the common flood, and five
   * integer compares are cheaper than packing a 36-bit key (a heap number) and hashing it (measured).
   */
  private last: Entry | null = null;
  private lastIp = -1;
  private lastUserAgent = -1;
  private lastPath = -1;

  constructor(
    private readonly windowMs: number,
    private readonly samplesPerSecond: number,
    /** The worker's string tables (the reader's), to name a new key once. */
    private readonly text: (field: number, id: number) => string,
    private readonly counters: Float64Array,
    /** Where counts go when their window closes (the sender's queue). */
    private readonly emit: (entry: QueuedRecord) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * True when the record is counted (the caller skips it), false when it is to be sent in full: the
   * key's first in this window, a sample, or no room. Ids are the record's interned ids.
   */
  count(ip: number, userAgent: number, path: number, host: number, method: number, atMs: number): boolean {
    if ((ip | userAgent | path | host | method) >= ID_SPAN || (ip | userAgent | path | host | method) < 0) return false;
    const minute = Math.floor(atMs / 60_000);
    if (minute !== this.windowMinute) {
      // Counts never straddle a minute, so the hub's per-minute totals stay exact.
      this.close();
      this.windowMinute = minute;
      this.windowOpenedMs = this.now();
    }
    let entry: Entry | undefined;
    let list: Entry[] | undefined;
    const last = this.last;
    if (last !== null && ip === this.lastIp && userAgent === this.lastUserAgent && path === this.lastPath && host === last.hostId && method === last.methodId) {
      entry = last;
    } else {
      list = this.index.get((ip * ID_SPAN + userAgent) * ID_SPAN + path);
    }
    if (entry === undefined && list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!; // i < list.length
        if (e.hostId === host && e.methodId === method) { entry = e; break; }
      }
    }
    if (entry === undefined) {
      if (this.entries.length >= MAX_AGGREGATE_KEYS) return false;
      entry = {
        ip: this.text(0, ip), userAgent: this.text(1, userAgent), path: this.text(2, path), host: this.text(3, host), method: this.text(4, method),
        hostId: host, methodId: method, atMs, count: 0,
      };
      this.entries.push(entry);
      if (list === undefined) this.index.set((ip * ID_SPAN + userAgent) * ID_SPAN + path, (list = []));
      list.push(entry);
      this.remember(entry, ip, userAgent, path);
      return false; // each key's first record of the window goes in full
    }
    this.remember(entry, ip, userAgent, path);
    const second = Math.floor(atMs / 1000);
    if (second !== this.sampleSecond) {
      this.sampleSecond = second;
      this.samplesLeft = this.samplesPerSecond;
    }
    if (this.samplesLeft > 0) {
      this.samplesLeft--;
      return false;
    }
    if (entry.count >= MAX_AGGREGATE_COUNT) return false;
    if (entry.count === 0) entry.atMs = atMs;
    entry.count++;
    this.pending++;
    const c = this.counters;
    // Pending before taken: status() never sees the request in neither the ring nor the counts.
    c[COUNTER.aggregatePending] = this.pending;
    addToCounter(c, COUNTER.taken);
    addToCounter(c, COUNTER.aggregated);
    return true;
  }

  private remember(entry: Entry, ip: number, userAgent: number, path: number): void {
    this.last = entry;
    this.lastIp = ip;
    this.lastUserAgent = userAgent;
    this.lastPath = path;
  }

  /** A key field's string table started afresh: its ids name other strings from now on. */
  forgetIds(): void {
    // Entries keep their strings and are sent at the window's end; only the lookup by id goes.
    this.index = new Map();
    this.last = null;
  }

  /** Whether the open window has lasted the interval. */
  due(): boolean {
    return this.entries.length > 0 && this.now() - this.windowOpenedMs >= this.windowMs;
  }

  /** Hands every count of the open window to `emit` as one entry each, and opens a new window. */
  close(): void {
    // Dated from the window's start: a count has already waited its interval, so its batch is due now.
    const receivedMs = this.windowOpenedMs;
    for (const e of this.entries) {
      if (e.count === 0) continue;
      this.emit({
        ip: e.ip, ipSource: '', userAgent: e.userAgent, path: e.path, host: e.host, method: e.method, requestId: '', atMs: e.atMs,
        treatment: 'Passed', category: 'passed', rule: '', ruleId: null, monitored: NO_MONITORED, query: '', params: undefined,
        // Strings shared with the tables, counted once here as a record's are.
        bytes: ENTRY_OVERHEAD_BYTES + 2 * (e.ip.length + e.userAgent.length + e.path.length + e.host.length + e.method.length),
        receivedMs, aggregated: e.count,
      });
    }
    this.entries = [];
    this.index = new Map();
    this.last = null;
    this.windowMinute = -1;
    this.pending = 0;
    this.counters[COUNTER.aggregatePending] = 0;
  }

  get pendingRequests(): number {
    return this.pending;
  }
}

const NO_MONITORED: QueuedRecord['monitored'] = [];
const ENTRY_OVERHEAD_BYTES = 320;
