import { z } from 'zod';
import { parseReportedKeys } from './reported-keys.js';

/**
 * Text fields: missing or null become '', over-long values are cut rather than the record refused, and
 * numbers or booleans become their text (the Wafris gem sends a rate-limit rule id as a JSON number).
 */
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const text = (max: number) => scalar.nullish().transform((v) => (v == null ? '' : String(v)).slice(0, max));
const optionalText = (max: number) => scalar.nullish().transform((v) => (v == null || v === '' ? null : String(v).slice(0, max)));

/** Longest treatment ('Allowed', 'Blocked'). Lower-casing never shortens a string, so no longer one can become one. */
const LONGEST_TREATMENT = 7;

/**
 * Case is folded only on a string short enough to be a treatment. A compact batch can name one long
 * dictionary string as every record's treatment, and folding it per record cost its whole length each
 * time: 10 000 records × a 7 MB string held the event loop ~110 s (measured on the shared 2-core box).
 */
const treatment = z.preprocess(
  (v) => (typeof v === 'string' && v.length <= LONGEST_TREATMENT ? v.charAt(0).toUpperCase() + v.slice(1).toLowerCase() : v),
  z.enum(['Allowed', 'Blocked', 'Passed']),
);

/** Unix seconds, as a number or a string of digits (some clients serialise times as strings). */
const timestamp = z.union([z.number(), z.string().regex(/^\d{1,12}(\.\d+)?$/).transform(Number)])
  .pipe(z.number().finite().min(0).max(1e11))
  .transform((v) => Math.floor(v));

const monitoredEntry = z.object({
  category: text(32),
  rule: text(1024),
  rule_id: optionalText(64),
});

/** A reported response status, or null when the value is not one. */
export function statusOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599 ? value : null;
}

/** The longest text a record field keeps (path, parameter); every other field keeps or accepts less. */
export const MAX_FIELD_LENGTH = 2048;

/** Most monitor-mode matches one record may list. */
export const MAX_MONITORED_PER_RECORD = 64;

/** One report. Validated on its own: a bad record is refused alone, never the batch around it. */
export const upsyncRecordSchema = z.object({
  ip: z.string().min(1).max(64),
  user_agent: text(1024),
  path: text(MAX_FIELD_LENGTH),
  parameter: text(MAX_FIELD_LENGTH),
  host: text(255),
  method: text(16),
  request_id: text(128),
  timestamp,
  treatment,
  category: text(32).transform((v) => v || 'passed'),
  rule: text(1024).transform((v) => v || '-'),
  // Moat clients only.
  rule_id: optionalText(64),
  monitored: z.array(monitoredEntry).max(MAX_MONITORED_PER_RECORD).nullish(),
  ip_source: optionalText(64),
  // Moat clients only: the response status, for status-based threshold rules. Anything but an integer
  // from 100 to 599 is read as "not known" (null) rather than refusing the report.
  status: z.unknown().transform(statusOrNull).optional(),
  // Moat clients only: the request's hashed keys, for keyed threshold rules; anything malformed refuses
  // the record (a forged key must never be counted or stored).
  keys: z.unknown().transform((value, ctx) => {
    const keys = parseReportedKeys(value);
    if (typeof keys === 'string') {
      ctx.addIssue({ code: 'custom', message: keys });
      return z.NEVER;
    }
    return keys;
  }).optional(),
});

export type UpsyncRecord = z.output<typeof upsyncRecordSchema>;

export const upsyncMetaSchema = z.object({
  version: text(64),
  client: text(64),
  framework: text(64),
}).nullish().transform((m) => m ?? { version: '', client: '', framework: '' });

export type UpsyncMeta = z.output<typeof upsyncMetaSchema>;

/** The envelope, checked whole: records are checked one by one afterwards, and `meta` leniently. */
export function upsyncEnvelopeSchema(maxRecords: number) {
  return z.object({
    batch: z.array(z.unknown()).max(maxRecords, `at most ${maxRecords} records per request`),
  });
}
