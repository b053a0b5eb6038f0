// A decision as reported to the hub: the Wafris v2 upsync record, plus Moat's own fields (rule id,
// monitor-mode matches, where the IP came from) that Wafris hubs ignore and the Moat hub stores.
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { decodeParams } from '../http/request-params.js';

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
 * What is kept per decision on the request path: references and a few strings, nothing computed.
 * Parameters are decoded and redacted later, off the request path, when the batch is built.
 */
export interface PendingRecord {
  decision: Decision;
  ip: string;
  ipSource: string;
  userAgent: string;
  path: string;
  params: string | undefined;
  /** The raw query, when the firewall did not decode parameters (no parameter rules). */
  rawQuery: string;
  host: string;
  method: string;
  requestId: string;
  atMs: number;
}

const REQUEST_ID_HEADERS = ['x-request-id', 'x-amzn-trace-id', 'cf-ray', 'fly-request-id'] as const;

export function pendingRecord(decision: Decision, request: MoatHttpRequest, atMs: number, fallbackId: () => string): PendingRecord {
  let rawQuery = '';
  if (request.params === undefined) {
    const q = request.url.indexOf('?');
    if (q >= 0) rawQuery = request.url.slice(q + 1);
  }
  return {
    decision, ip: request.ip, ipSource: request.ipSource, userAgent: request.userAgent ?? '', path: request.path,
    params: request.params, rawQuery, host: request.host ?? '', method: request.method, requestId: requestId(request) ?? fallbackId(), atMs,
  };
}

function requestId(request: MoatHttpRequest): string | null {
  for (const name of REQUEST_ID_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string' && value !== '') return value.slice(0, 128);
  }
  return null;
}

export function toUpsyncRecord(p: PendingRecord, redact: (params: string) => string): UpsyncRecord {
  let parameter = p.params ?? '';
  if (p.params === undefined && p.rawQuery !== '') {
    try {
      parameter = decodeParams(p.rawQuery);
    } catch {
      parameter = p.rawQuery;
    }
  }
  const d = p.decision;
  return {
    ip: p.ip, user_agent: p.userAgent, path: p.path, parameter: redact(parameter), host: p.host, method: p.method,
    request_id: p.requestId, timestamp: Math.floor(p.atMs / 1000), treatment: d.treatment, category: d.category, rule: d.rule,
    rule_id: d.ruleId, monitored: d.monitored.map((m) => ({ category: m.category, rule: m.rule, rule_id: m.ruleId })),
    ip_source: p.ipSource,
  };
}
