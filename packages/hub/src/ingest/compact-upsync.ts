import { HttpError } from '../server/http-error.js';
import type { JsonShapeLimits } from '../server/json-shape.js';
import { MAX_FIELD_LENGTH, MAX_MONITORED_PER_RECORD } from './upsync-schema.js';

/**
 * The compact Moat upsync encoding (docs/format.md, "Compact upsync"): the records of a batch as columns,
 * each string field an index into one dictionary of the batch's distinct strings, so a batch of repeated
 * paths and user agents costs bytes per record. It is only a transport: it is expanded here into the very
 * record objects a Wafris JSON batch holds, which then pass the same per-record checks.
 */
export const COMPACT_UPSYNC_TYPE = 'application/vnd.moat.upsync.v1+json';
/**
 * Version 2: version 1, plus `aggregates` (counts of Passed requests per key and minute that were not
 * sent as records), and `n` may then be 0. A hub that knows only version 1 answers 415 to it, and the
 * client falls back to Wafris JSON with every record in full: counts never reach a hub that would drop them.
 */
export const COMPACT_UPSYNC_TYPE_V2 = 'application/vnd.moat.upsync.v2+json';

/** Largest count of one aggregates entry: one key's requests in one minute (~166 000 a second). */
export const MAX_PASSED_COUNT = 10_000_000;

/** A count of Passed requests of one key, as the body gives it (values judged later, one by one). */
export interface PassedCountEntry {
  ip: string;
  user_agent: string;
  path: string;
  host: string;
  method: string;
  /** Unix seconds. */
  timestamp: number;
  count: number;
}

/**
 * Keys refused on the objects the decoder reads: nothing here merges or copies objects, but a body that
 * carries them is an attack or a broken client, and either is better told clearly than half-read.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface CompactUpsyncLimits {
  maxRecords: number;
  /** Most dictionary entries. Their total size is bounded by the body limit (after inflating). */
  maxStrings: number;
  /**
   * Most characters the records may hold once every index is replaced by its string: what the hub
   * stores. One dictionary entry can stand for a field of every record, so without this a 1.6 MB body
   * stored about 250 MB; with it, a compact request stores no more than a Wafris JSON body of the same
   * limit could. A batch over it gets a 413, which a Moat client answers by sending it in halves.
   */
  maxExpandedChars: number;
}

/** A batch in the shape of a Wafris JSON body: what the Wafris path parses, and the rest of ingest takes. */
export interface ExpandedUpsync {
  meta: unknown;
  batch: Record<string, unknown>[];
  /** Version 2 only; empty otherwise. */
  aggregates: PassedCountEntry[];
}

/**
 * At most sixteen distinct strings per record: the ten string columns and a rule id if every record
 * differed in all of them, with room for monitored matches (rule names, which repeat across records).
 */
export function compactUpsyncLimits(maxRecords: number, maxBodyBytes: number): CompactUpsyncLimits {
  return { maxRecords, maxStrings: 16 * maxRecords, maxExpandedChars: maxBodyBytes };
}

/**
 * The shape a compact body may have, checked on its bytes before it is parsed. It nests five levels
 * (`{columns:{monitored:[[[…]]]}}`); one more is allowed for later columns. Arrays hold at most the
 * dictionary; the value budget is the Wafris path's per record plus one per dictionary entry.
 */
export function compactUpsyncShapeLimits(limits: CompactUpsyncLimits): JsonShapeLimits {
  const { maxRecords, maxStrings } = limits;
  return { maxDepth: 6, maxObjectKeys: 64, maxArrayItems: Math.max(maxStrings, maxRecords) + 64, maxValues: maxRecords * 64 + maxStrings + 1024 };
}

function malformed(message: string): never {
  throw new HttpError(400, message, 'invalid_compact_batch');
}

/** The object at body[key] with no forbidden keys, or a 400. */
function plainObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(`${where} must be a JSON object`);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) malformed(`${where} holds the forbidden key ${JSON.stringify(key)}`);
  }
  return value as Record<string, unknown>;
}

function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isIndex(value: unknown, size: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < size;
}

/**
 * Expands a parsed compact body into Wafris-shaped records, or refuses the whole batch (400) when its
 * envelope is malformed: a missing or mistyped field, a column whose length is not `n`, an index out of
 * `strings`, more than maxRecords records or maxStrings strings. Record values are not judged here:
 * the per-record checks of the Wafris path do that afterwards, refusing bad records one by one.
 */
export function expandCompactUpsync(body: unknown, limits: CompactUpsyncLimits, version: 1 | 2 = 1): ExpandedUpsync {
  const top = plainObject(body, 'the body');
  const n = own(top, 'n');
  const least = version === 2 && own(top, 'aggregates') !== undefined ? 0 : 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < least) malformed(`n must be an integer ≥ ${least}`);
  if (n > limits.maxRecords) malformed(`at most ${limits.maxRecords} records per request`);
  const t0 = own(top, 't0');
  if (typeof t0 !== 'number' || !Number.isSafeInteger(t0) || t0 < 0) malformed('t0 must be an integer ≥ 0 (unix seconds)');
  const strings = own(top, 'strings');
  if (!Array.isArray(strings)) malformed('strings must be an array');
  if (strings.length > limits.maxStrings) malformed(`at most ${limits.maxStrings} strings per request`);
  for (let i = 0; i < strings.length; i++) {
    const entry: unknown = strings[i];
    if (typeof entry !== 'string') malformed(`strings[${i}] is not a string`);
    // One entry can stand for a field of every record, which the Wafris form cannot repeat, and a check
    // that reads a whole value then reads it once per record: the schema counts an over-long ip's code
    // points, so a 3 MB emoji string as the ip of 10 000 records held the loop ~47 s (shared 2-core box).
    // A field keeps at most MAX_FIELD_LENGTH characters, or refuses a longer value by its length alone,
    // so one character more changes no answer and bounds what any per-record check can read.
    if (entry.length > MAX_FIELD_LENGTH + 1) strings[i] = entry.slice(0, MAX_FIELD_LENGTH + 1);
  }
  const meta = own(top, 'meta');
  if (meta !== undefined && meta !== null) plainObject(meta, 'meta');
  const columns = plainObject(own(top, 'columns'), 'columns');
  // Every column below is required; any other key of `columns` is ignored (room for later fields).
  const column = (name: string): unknown[] => {
    const values = own(columns, name);
    if (!Array.isArray(values)) malformed(`columns.${name} must be an array`);
    if (values.length !== n) malformed(`columns.${name} has ${values.length} entries, n is ${n}`);
    return values;
  };

  const dictionary = strings as string[];
  // The characters the records will hold, counted as each field is looked up (expandMonitored adds its own).
  const expanded = { chars: 0 };
  const text = (name: string, values: unknown[], i: number): string => {
    const value = stringAt(dictionary, values[i], name, i);
    expanded.chars += value.length;
    return value;
  };
  const nullableText = (name: string, values: unknown[], i: number): string | null => (values[i] === -1 ? null : text(name, values, i));

  const ip = column('ip');
  const userAgent = column('user_agent');
  const path = column('path');
  const parameter = column('parameter');
  const host = column('host');
  const method = column('method');
  const ipSource = column('ip_source');
  const treatment = column('treatment');
  const category = column('category');
  const rule = column('rule');
  const ruleId = column('rule_id');
  const requestId = column('request_id');
  const timestamp = column('timestamp');
  const monitored = column('monitored');
  // Optional (older clients send none): the response status of each record, -1 when not known.
  const status = own(columns, 'status');
  if (status !== undefined && (!Array.isArray(status) || status.length !== n)) malformed(`columns.status must be an array of n entries`);
  // Optional: each record's reported keys, a string index or -1; the text is judged with the record.
  const keys = own(columns, 'keys');
  if (keys !== undefined && (!Array.isArray(keys) || keys.length !== n)) malformed(`columns.keys must be an array of n entries`);

  // Checked before any record is built: a bad count section costs no record objects.
  const aggregates = version === 2 ? expandAggregates(own(top, 'aggregates'), dictionary, t0, limits) : [];
  const batch: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = requestId[i];
    if (typeof id !== 'string') malformed(`columns.request_id[${i}] is not a string`);
    const offset = timestamp[i];
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      malformed(`columns.timestamp[${i}] must be an integer ≥ 0 (seconds after t0)`);
    }
    batch[i] = {
      ip: text('ip', ip, i), user_agent: text('user_agent', userAgent, i), path: text('path', path, i),
      parameter: text('parameter', parameter, i), host: text('host', host, i), method: text('method', method, i),
      request_id: id, timestamp: t0 + offset, treatment: text('treatment', treatment, i), category: text('category', category, i),
      rule: text('rule', rule, i), rule_id: nullableText('rule_id', ruleId, i),
      monitored: expandMonitored(dictionary, monitored[i], i, expanded), ip_source: text('ip_source', ipSource, i),
    };
    // Set after the literal, so batches without the column build records as before.
    if (status !== undefined) batch[i]!.status = status[i] === -1 ? null : status[i];
    if (keys !== undefined && keys[i] !== -1) batch[i]!.keys = text('keys', keys, i);
    if (expanded.chars > limits.maxExpandedChars) {
      throw new HttpError(413, `the records would hold more than ${limits.maxExpandedChars} characters once expanded: send fewer per request`,
        'compact_batch_too_large');
    }
  }
  return { meta, batch, aggregates };
}

/**
 * The `aggregates` section of a version 2 body: `{n, ip, user_agent, path, host, method, timestamp,
 * count}`, each a column of n entries (string indexes, seconds after t0, counts). Anything malformed —
 * a count that is not an integer from 1 to MAX_PASSED_COUNT, an index outside `strings`, more than
 * maxRecords entries, a column of the wrong length — refuses the whole batch (400): a count cannot be
 * judged alone the way a record can, and a wrong one would falsify every total.
 */
function expandAggregates(value: unknown, strings: string[], t0: number, limits: CompactUpsyncLimits): PassedCountEntry[] {
  if (value === undefined) return [];
  const section = plainObject(value, 'aggregates');
  const n = own(section, 'n');
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) malformed('aggregates.n must be an integer ≥ 1');
  if (n > limits.maxRecords) malformed(`at most ${limits.maxRecords} aggregates entries per request`);
  const column = (name: string): unknown[] => {
    const values = own(section, name);
    if (!Array.isArray(values)) malformed(`aggregates.${name} must be an array`);
    if (values.length !== n) malformed(`aggregates.${name} has ${values.length} entries, aggregates.n is ${n}`);
    return values;
  };
  const ip = column('ip');
  const userAgent = column('user_agent');
  const path = column('path');
  const host = column('host');
  const method = column('method');
  const timestamp = column('timestamp');
  const count = column('count');
  const text = (name: string, values: unknown[], i: number): string => {
    const index = values[i];
    if (!isIndex(index, strings.length)) malformed(`aggregates.${name}[${i}] is not an index into strings (0 to ${strings.length - 1})`);
    return strings[index]!;
  };
  const entries: PassedCountEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = count[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_PASSED_COUNT) {
      malformed(`aggregates.count[${i}] must be an integer from 1 to ${MAX_PASSED_COUNT}`);
    }
    const offset = timestamp[i];
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      malformed(`aggregates.timestamp[${i}] must be an integer ≥ 0 (seconds after t0)`);
    }
    entries[i] = {
      ip: text('ip', ip, i), user_agent: text('user_agent', userAgent, i), path: text('path', path, i), host: text('host', host, i),
      method: text('method', method, i), timestamp: t0 + offset, count: c,
    };
  }
  return entries;
}

/** The dictionary entry an index names, or a 400 saying where the bad index is. */
function stringAt(strings: string[], index: unknown, where: string, i: number, m?: number): string {
  if (!isIndex(index, strings.length)) {
    malformed(`columns.${where}[${i}]${m === undefined ? '' : `[${m}]`} is not an index into strings (0 to ${strings.length - 1})`);
  }
  return strings[index]!;
}

/**
 * One record's monitored matches, from `[[category, rule, rule_id], …]` (rule_id -1 for none). Every
 * triple is checked, but at most one more than a record may hold is built: that is enough for the
 * record check to refuse the record as it refuses the same over-long list in the Wafris form, and a
 * list of 100 000 triples then costs no 100 000 objects.
 */
function expandMonitored(strings: string[], value: unknown, i: number, expanded: { chars: number }): unknown[] {
  if (!Array.isArray(value)) malformed(`columns.monitored[${i}] must be an array`);
  // Most records match nothing in monitor mode: a fresh empty list, no loop.
  if (value.length === 0) return [];
  const entries: unknown[] = [];
  for (let m = 0; m < value.length; m++) {
    const triple: unknown = value[m];
    if (!Array.isArray(triple) || triple.length !== 3) malformed(`columns.monitored[${i}][${m}] must be [category, rule, rule_id]`);
    const category = stringAt(strings, triple[0], 'monitored', i, m);
    const rule = stringAt(strings, triple[1], 'monitored', i, m);
    const ruleId = triple[2] === -1 ? null : stringAt(strings, triple[2], 'monitored', i, m);
    if (m <= MAX_MONITORED_PER_RECORD) {
      entries.push({ category, rule, rule_id: ruleId });
      expanded.chars += category.length + rule.length + (ruleId?.length ?? 0);
    }
  }
  return entries;
}
