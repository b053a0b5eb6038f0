import type { UpsyncRecord } from './upsync-schema.js';
import { MAX_FIELD_LENGTH, statusOrNull, upsyncRecordSchema } from './upsync-schema.js';
import { parseReportedKeys } from './reported-keys.js';

const TREATMENTS = new Set(['Passed', 'Blocked', 'Allowed']);

/** A number or boolean the schema turns into text (JSON has no NaN, but the schema refuses it). */
function isScalar(v: unknown): v is number | boolean {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

/** `text(max)` of the schema for the plain cases; undefined means "let the schema decide". */
function text(v: unknown, max: number): string | undefined {
  if (typeof v === 'string') return v.length > max ? v.slice(0, max) : v;
  if (isScalar(v)) return String(v).slice(0, max);
  return v === null || v === undefined ? '' : undefined;
}

function optionalText(v: unknown, max: number): string | null | undefined {
  if (v === null || v === undefined || v === '') return null;
  if (isScalar(v)) return String(v).slice(0, max);
  return typeof v === 'string' ? v.slice(0, max) : undefined;
}

/**
 * The schema's result for a record in the shape clients normally send (plain strings or numbers, a
 * numeric timestamp, a canonical treatment, no or an empty monitored list), built without zod's
 * per-field machinery; undefined for anything else, which then goes through the schema itself.
 */
export function fastRecord(raw: unknown): UpsyncRecord | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const ip = r.ip;
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return undefined;
  const ts = r.timestamp;
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0 || ts > 1e11) return undefined;
  const treatment = r.treatment;
  if (typeof treatment !== 'string' || !TREATMENTS.has(treatment)) return undefined;
  const monitored = r.monitored;
  // An empty list is what a Moat client sends for a record with no monitor-mode match: the common case.
  // Through the schema such a record cost ~90 µs, here ~1 µs (measured on the 2-core box, zod 4).
  const noMonitored = monitored === undefined || monitored === null || (Array.isArray(monitored) && monitored.length === 0);
  if (!noMonitored) return undefined;
  const userAgent = text(r.user_agent, 1024);
  const path = text(r.path, MAX_FIELD_LENGTH);
  const parameter = text(r.parameter, MAX_FIELD_LENGTH);
  const host = text(r.host, 255);
  const method = text(r.method, 16);
  const requestId = text(r.request_id, 128);
  const category = text(r.category, 32);
  const rule = text(r.rule, 1024);
  const ruleId = optionalText(r.rule_id, 64);
  const ipSource = optionalText(r.ip_source, 64);
  if (userAgent === undefined || path === undefined || parameter === undefined || host === undefined || method === undefined
    || requestId === undefined || category === undefined || rule === undefined || ruleId === undefined || ipSource === undefined) {
    return undefined;
  }
  const out: UpsyncRecord = {
    ip, user_agent: userAgent, path, parameter, host, method, request_id: requestId, timestamp: Math.floor(ts),
    treatment: treatment as UpsyncRecord['treatment'], category: category || 'passed', rule: rule || '-', rule_id: ruleId,
    ip_source: ipSource,
  };
  // The schema keeps a present-but-empty key as it came (null, undefined, or a fresh empty list).
  if ('monitored' in r) out.monitored = Array.isArray(monitored) ? [] : monitored as null | undefined;
  if ('status' in r) out.status = r.status === undefined ? undefined : statusOrNull(r.status);
  if ('keys' in r && r.keys !== undefined) {
    const keys = parseReportedKeys(r.keys);
    // A refused key list goes to the schema, which refuses the record with the reason.
    if (typeof keys === 'string') return undefined;
    out.keys = keys;
  }
  return out;
}

/**
 * One record, with the same result as `upsyncRecordSchema.safeParse`, several times faster for the plain
 * shape: the fast path answers when it can, the schema otherwise (and writes the reason for a refusal).
 */
export function checkUpsyncRecord(raw: unknown): { record: UpsyncRecord } | { reason: string } {
  const fast = fastRecord(raw);
  if (fast !== undefined) return { record: fast };
  const parsed = upsyncRecordSchema.safeParse(raw);
  if (parsed.success) return { record: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { reason: `${where}${issue?.message ?? 'invalid record'}`.slice(0, 200) };
}
