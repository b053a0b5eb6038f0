// A decision as reported to the hub: the Wafris v2 upsync record, plus Moat's own fields (rule id,
// monitor-mode matches, where the IP came from) that Wafris hubs ignore and the Moat hub stores.
// Long values are cut with a visible marker before they are queued, so one record costs at most a few
// kilobytes however long the URL, user agent or body an attacker sends.
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
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
}

/**
 * What is kept per decision on the request path: references and a few strings, nothing computed
 * unless a value is too long. Parameters are decoded and redacted later, off the request path, when
 * the batch is built.
 */
export interface PendingRecord {
  decision: Decision;
  ip: string;
  ipSource: string;
  userAgent: string;
  path: string;
  /** The raw request target (its query is redacted structurally later), or `?<query>` once cut. */
  target: string;
  /** Decoded parameters (query, and body when the firewall read it), when the firewall decoded them. */
  params: string | undefined;
  host: string;
  method: string;
  requestId: string;
  atMs: number;
  /** Whether a field was cut to its limit. */
  truncated: boolean;
  /** Estimated memory held by this record (see recordBytes). */
  bytes: number;
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

const REQUEST_ID_HEADERS = ['x-request-id', 'x-amzn-trace-id', 'cf-ray', 'fly-request-id'] as const;

export function pendingRecord(decision: Decision, request: MoatHttpRequest, atMs: number, fallbackId: () => string): PendingRecord {
  // Every check below is a length comparison; only a value over its limit costs a copy.
  let truncated = false;
  let target = request.url;
  if (target.length > FIELD_LIMITS.target) {
    // The path is kept on its own (normalised); of the target only the query is still needed.
    const q = target.indexOf('?');
    const query = q < 0 ? '' : target.slice(q + 1);
    // A short query behind a long path is copied whole (a copy, so the long target is not kept alive).
    target = query === '' ? '' : query.length > FIELD_LIMITS.target ? `?${cut(query, FIELD_LIMITS.target)}` : `?${copyOf(query)}`;
    truncated = true;
  }
  let params = request.params;
  if (params !== undefined && params.length > FIELD_LIMITS.params) {
    params = cut(params, FIELD_LIMITS.params);
    truncated = true;
  }
  let path = request.path;
  if (path.length > FIELD_LIMITS.path) {
    path = cut(path, FIELD_LIMITS.path);
    truncated = true;
  }
  let userAgent = request.userAgent ?? '';
  if (userAgent.length > FIELD_LIMITS.userAgent) {
    userAgent = cut(userAgent, FIELD_LIMITS.userAgent);
    truncated = true;
  }
  let host = request.host ?? '';
  if (host.length > FIELD_LIMITS.host) {
    host = cut(host, FIELD_LIMITS.host);
    truncated = true;
  }
  let method = request.method;
  if (method.length > FIELD_LIMITS.method) {
    method = cut(method, FIELD_LIMITS.method);
    truncated = true;
  }
  const ip = request.ip.length > FIELD_LIMITS.ip ? cut(request.ip, FIELD_LIMITS.ip) : request.ip;
  const requestId = requestIdOf(request) ?? fallbackId();
  const record: PendingRecord = {
    decision, ip, ipSource: request.ipSource, userAgent, path, target, params, host, method, requestId, atMs, truncated, bytes: 0,
  };
  record.bytes = recordBytes(record);
  return record;
}

/**
 * The memory a queued record holds, from above: its strings at two bytes per character (V8 stores
 * Latin-1 text in one, anything else in two) plus a fixed overhead. The queue's byte bound is kept on
 * this figure, so it holds whatever the text.
 */
export function recordBytes(p: PendingRecord): number {
  const chars = p.ip.length + p.userAgent.length + p.path.length + p.target.length + (p.params?.length ?? 0) +
    p.host.length + p.method.length + p.requestId.length + p.decision.rule.length;
  return RECORD_OVERHEAD_BYTES + 2 * chars;
}

function requestIdOf(request: MoatHttpRequest): string | null {
  for (const name of REQUEST_ID_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string' && value !== '') return value.length > FIELD_LIMITS.requestId ? cut(value, FIELD_LIMITS.requestId) : value;
  }
  return null;
}

export function toUpsyncRecord(p: PendingRecord, redactor: ParamRedactor): UpsyncRecord {
  const d = p.decision;
  return {
    ip: p.ip, user_agent: p.userAgent, path: p.path, parameter: limit(reportedParameters(p.target, p.params, redactor), FIELD_LIMITS.parameter),
    host: p.host, method: p.method, request_id: p.requestId, timestamp: Math.floor(p.atMs / 1000), treatment: d.treatment,
    category: d.category, rule: limit(d.rule, FIELD_LIMITS.rule), rule_id: d.ruleId,
    monitored: d.monitored.map((m) => ({ category: m.category, rule: limit(m.rule, FIELD_LIMITS.rule), rule_id: m.ruleId })),
    ip_source: p.ipSource,
  };
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
