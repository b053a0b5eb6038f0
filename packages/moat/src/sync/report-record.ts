// A decision as reported to the hub: the Wafris v2 upsync record, plus Moat's own fields (rule id,
// monitor-mode matches, where the IP came from) that Wafris hubs ignore and the Moat hub stores.
// Long values are cut with a visible marker on the serving thread (report/ring-writer.ts), so one record
// costs at most a few kilobytes however long the URL, user agent or body an attacker sends.
import type { Decision } from '../engine/decision.js';
import { reportedParameters, type ParamRedactor } from './redact-params.js';

export interface UpsyncRecord {
  ip: string;
  user_agent: string;
  path: string;
  parameter: string;
  host: string;
  method: string;
  request_id: string;
  /** Unix seconds. */
  timestamp: number;
  treatment: Decision['treatment'];
  category: Decision['category'];
  rule: string;
  rule_id: string | null;
  monitored: { category: string; rule: string; rule_id: string }[];
  ip_source: string;
  /** Moat only: the response status, when the client captured it. */
  status?: number;
}

/**
 * A decision as the report worker holds it until it is sent: the strings read back from the ring
 * (interned ones shared between records), cut values already carrying the marker. Parameters are
 * decoded and redacted only when the batch is built.
 */
export interface QueuedRecord {
  ip: string;
  ipSource: string;
  userAgent: string;
  path: string;
  host: string;
  method: string;
  requestId: string;
  atMs: number;
  treatment: Decision['treatment'];
  category: Decision['category'];
  rule: string;
  ruleId: string | null;
  monitored: { category: string; rule: string; ruleId: string }[];
  /** The raw (still percent-encoded) query, '' when the target had none. */
  query: string;
  /** Decoded parameters (query, and body when the firewall read it), when the firewall decoded them. */
  params: string | undefined;
  /** Estimated memory held by this record (see recordBytes). */
  bytes: number;
  /** When the worker took it from the ring (its clock): a batch is due by this age. */
  receivedMs: number;
  /**
   * Set on a count, not a record: this many Passed requests of one key (ip, user agent, path, host,
   * method) in the minute of `atMs`, not sent in full (report/passed-aggregator.ts). Its other fields
   * are empty. Sent only in the compact encoding.
   */
  aggregated?: number;
  /** The response status, when it was captured (see report/status-join.ts). */
  status?: number;
  /**
   * The request's keys the rules file asked for, hashed (`header:x-api-key=<32 hex> …`): sent only in
   * the compact encoding (the Wafris JSON has no such field), for the Moat hub's keyed threshold rules.
   */
  keys?: string;
}

/** How many requests an entry stands for: a record one, a count its count. */
export function requestsOf(record: QueuedRecord): number {
  return record.aggregated ?? 1;
}

/**
 * Longest value kept per field. Path, user agent, parameters and host match the longest the Moat hub
 * stores (it cuts the rest); the raw target and the decoded parameters are kept a little longer, as
 * redaction and decoding still shorten them.
 */
export const FIELD_LIMITS = {
  path: 2048, userAgent: 1024, parameter: 2048, host: 255, method: 16, requestId: 128, rule: 1024, target: 4096, params: 4096, ip: 64,
} as const;

/** Smallest batch size in bytes: one record cut to FIELD_LIMITS always fits, whatever its JSON escapes. */
export const MIN_BATCH_BYTES = 64 * 1024;

/** Appended to a cut value, so the hub's user sees the value is incomplete. */
export const TRUNCATED_MARKER = '…[truncated]';

/** Object, references and numbers of a record, beyond its strings (measured order of magnitude). */
const RECORD_OVERHEAD_BYTES = 320;

/**
 * The memory a queued record holds, from above: its strings at two bytes per character (V8 stores
 * Latin-1 text in one, anything else in two) plus a fixed overhead; interned strings shared with other
 * records are counted in each. The queue's byte bound is kept on this figure, so it holds whatever the text.
 */
export function recordBytes(p: QueuedRecord): number {
  let chars = p.ip.length + p.userAgent.length + p.path.length + p.query.length + (p.params?.length ?? 0) +
    p.host.length + p.method.length + p.requestId.length + p.rule.length + (p.keys?.length ?? 0);
  for (const m of p.monitored) chars += m.category.length + m.rule.length + m.ruleId.length;
  return RECORD_OVERHEAD_BYTES + 2 * chars;
}

export function toUpsyncRecord(p: QueuedRecord, redactor: ParamRedactor): UpsyncRecord {
  const record: UpsyncRecord = {
    ip: p.ip, user_agent: p.userAgent, path: p.path, parameter: reportedParameter(p, redactor),
    host: p.host, method: p.method, request_id: p.requestId, timestamp: Math.floor(p.atMs / 1000), treatment: p.treatment,
    category: p.category, rule: p.rule, rule_id: p.ruleId,
    monitored: p.monitored.map((m) => ({ category: m.category, rule: m.rule, rule_id: m.ruleId })),
    ip_source: p.ipSource,
  };
  if (p.status !== undefined) record.status = p.status;
  return record;
}

/** The `parameter` field: redacted (see redact-params.ts) and cut to its limit. */
export function reportedParameter(p: QueuedRecord, redactor: ParamRedactor): string {
  if (p.query === '' && p.params === undefined) return '';
  return limit(reportedParameters(p.query === '' ? '' : `?${p.query}`, p.params, redactor), FIELD_LIMITS.parameter);
}

function limit(text: string, max: number): string {
  return text.length > max ? cut(text, max) : text;
}

/**
 * `text` cut to `max` characters, the marker appended, as a fresh copy. A plain slice of a long string
 * is a view that keeps the whole original alive in V8 (a 16 KB URL behind a 2 KB report); the round
 * trip through a buffer makes a string of its own, Latin-1 (one byte per character) when the text
 * allows. Never splits a surrogate pair.
 */
export function cut(text: string, max: number): string {
  let end = Math.max(0, max - TRUNCATED_MARKER.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return copyOf(text.slice(0, end)) + TRUNCATED_MARKER;
}

function copyOf(text: string): string {
  return WIDE_CHAR.test(text) ? Buffer.from(text, 'utf16le').toString('utf16le') : Buffer.from(text, 'latin1').toString('latin1');
}

const WIDE_CHAR = /[^\u0000-\u00ff]/;
