/**
 * Cloud-provider ranges in the shapes the providers publish them:
 * - `aws`: ip-ranges.json, `prefixes[].ip_prefix` and `ipv6_prefixes[].ipv6_prefix`;
 * - `gcp`: cloud.json / goog.json, `prefixes[].ipv4Prefix | ipv6Prefix`;
 * - `azure`: ServiceTags_*.json, `values[].properties.addressPrefixes[]`;
 * - `oracle`: public_ip_ranges.json, `regions[].cidrs[].cidr`;
 * - `cloudflare`: the API's `result.ipv4_cidrs` / `result.ipv6_cidrs`, or the text lists (ips-v4, ips-v6);
 * - `crawlers`: search-engine crawler ranges as Google (googlebot.json, special-crawlers.json) and Bing
 *   (bingbot.json) publish them: `{ creationTime, prefixes: [{ ipv4Prefix } | { ipv6Prefix }] }`. The
 *   shape is GCP's, so detection says `gcp`; naming it keeps a crawler feed apart from cloud ranges.
 *   A crawler range wider than CRAWLER_WIDEST (/16, IPv6 /32) is skipped as an invalid entry, and a copy
 *   whose ranges add up to more than that is refused: see there;
 * - `text`: any plain list (see ip-list.ts).
 * The format is detected from the content unless given.
 */
import { familyBits, splitByFamily, tryParseRange } from '../../ip/range.js';
import type { IpRange } from '../../ip/range.js';
import type { ImportResult } from './import-result.js';
import { importIpList } from './ip-list.js';
import { MoatError } from '../../errors/moat-error.js';

export const CLOUD_FORMATS = ['aws', 'gcp', 'azure', 'oracle', 'cloudflare', 'crawlers', 'text'] as const;
export type CloudFormat = (typeof CLOUD_FORMATS)[number];

/** A cloud range file that is not JSON or of no known layout (MOAT_ERR_SOURCE_UNREADABLE). */
export class CloudFormatError extends MoatError {
  override readonly name = 'CloudFormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_SOURCE_UNREADABLE', message, options);
  }
}

/**
 * The widest prefix a crawler's published list may hold. A crawler list proves a bot claim, so a range
 * in it turns every address inside into "the real Googlebot": a broken or hostile copy holding
 * `0.0.0.0/0` would verify anyone. Published lists are far narrower (Google: IPv4 /27 and /28, IPv6
 * /64; Bing: /24; the widest in our tests and benches is 66.249.64.0/19 and 2001:4860:4801::/48).
 */
export const CRAWLER_WIDEST = { 4: 16, 6: 32 } as const;

/**
 * Why a range may not stand in a crawler list, or null when it may. An IPv6 range is judged by what it
 * becomes in the data file: the part of it inside ::ffff:0:0/96 is stored as IPv4 (splitByFamily), so
 * `::/80` would verify every IPv4 address while looking like a narrow IPv6 range.
 */
export function crawlerRangeProblem(range: IpRange): string | null {
  for (const part of [range, ...splitByFamily(range)]) {
    const widest = CRAWLER_WIDEST[part.family];
    if (part.end - part.start + 1n > 1n << BigInt(familyBits(part.family) - widest)) {
      const mapped = part.family !== range.family ? ' (its IPv4-mapped part)' : '';
      return `wider than /${widest}${mapped}: no crawler publishes IPv${part.family} ranges that wide`;
    }
  }
  return null;
}

/**
 * Why a whole crawler list may not be used, or null when it may: ranges each narrow enough can still add
 * up to any width (256 adjacent /16s are a /8), so the list as a whole holds at most as many addresses
 * per family as one range of CRAWLER_WIDEST. Published lists hold a few thousand IPv4 addresses.
 */
export function crawlerListProblem(ranges: Iterable<IpRange>): string | null {
  const total = { 4: 0n, 6: 0n };
  for (const range of ranges) {
    for (const part of splitByFamily(range)) total[part.family] += part.end - part.start + 1n;
  }
  for (const family of [4, 6] as const) {
    if (total[family] > 1n << BigInt(familyBits(family) - CRAWLER_WIDEST[family])) {
      return `its IPv${family} ranges add up to more addresses than one /${CRAWLER_WIDEST[family]}: no crawler publishes that many`;
    }
  }
  return null;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Which published shape a document has; null when it is none of them. */
export function detectCloudFormat(doc: unknown): Exclude<CloudFormat, 'text'> | null {
  if (!isObj(doc)) return null;
  if (Array.isArray(doc.prefixes) && (Array.isArray(doc.ipv6_prefixes) || arr(doc.prefixes).some((p) => isObj(p) && 'ip_prefix' in p))) return 'aws';
  if (Array.isArray(doc.prefixes) && arr(doc.prefixes).some((p) => isObj(p) && ('ipv4Prefix' in p || 'ipv6Prefix' in p))) return 'gcp';
  if (Array.isArray(doc.values) && arr(doc.values).some((v) => isObj(v) && isObj(v.properties))) return 'azure';
  if (Array.isArray(doc.regions) && arr(doc.regions).some((r) => isObj(r) && Array.isArray(r.cidrs))) return 'oracle';
  if (isObj(doc.result) && ('ipv4_cidrs' in doc.result || 'ipv6_cidrs' in doc.result)) return 'cloudflare';
  return null;
}

/** Every range string of a document of the given format, in document order. */
function entries(doc: Json, format: Exclude<CloudFormat, 'text'>): unknown[] {
  switch (format) {
    case 'aws':
      return [...arr(doc.prefixes).map((p) => (isObj(p) ? p.ip_prefix : p)), ...arr(doc.ipv6_prefixes).map((p) => (isObj(p) ? p.ipv6_prefix : p))];
    case 'gcp':
    case 'crawlers':
      return arr(doc.prefixes).map((p) => (isObj(p) ? p.ipv4Prefix ?? p.ipv6Prefix : p));
    case 'azure':
      return arr(doc.values).flatMap((v) => (isObj(v) && isObj(v.properties) ? arr(v.properties.addressPrefixes) : [v]));
    case 'oracle':
      return arr(doc.regions).flatMap((r) => (isObj(r) ? arr(r.cidrs).map((c) => (isObj(c) ? c.cidr : c)) : [r]));
    case 'cloudflare': {
      const r = doc.result as Json;
      return [...arr(r.ipv4_cidrs), ...arr(r.ipv6_cidrs)];
    }
  }
}

/** Finds the line a bad value is on, scanning forward from the previous find (values come in document order). */
function lineFinder(text: string): (value: unknown) => number {
  let cursor = 0;
  let line = 1;
  return (value) => {
    const needle = JSON.stringify(value);
    if (needle === undefined) return 0;
    const at = text.indexOf(needle, cursor);
    if (at < 0) return 0;
    for (let i = cursor; i < at; i++) if (text.charCodeAt(i) === 10) line++;
    cursor = at;
    return line;
  };
}

export function importCloudRanges(text: string, format?: CloudFormat): ImportResult<IpRange> & { format: CloudFormat } {
  const trimmed = text.trimStart();
  const looksJson = trimmed.startsWith('{') && !trimmed.includes('\n{'); // NDJSON lists are text lists
  if (format === 'text' || (format === undefined && !looksJson) || (format === 'cloudflare' && !looksJson)) {
    return { ...importIpList(text), format: format ?? 'text' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CloudFormatError(`not valid JSON: ${(e as Error).message}`);
  }
  const detected = detectCloudFormat(doc);
  const use = format ?? detected;
  if (use === null) {
    throw new CloudFormatError(`unknown cloud range format; give one of ${CLOUD_FORMATS.join(', ')}`);
  }
  if (!isObj(doc)) throw new CloudFormatError(`expected a JSON object for format ${use}`);
  const result: ImportResult<IpRange> = { rows: [], invalid: [], lines: 0 };
  const lineOf = lineFinder(text);
  for (const value of entries(doc, use)) {
    result.lines++;
    const range = typeof value === 'string' ? tryParseRange(value) : null;
    const tooWide = range !== null && use === 'crawlers' ? crawlerRangeProblem(range) : null;
    if (range !== null && tooWide === null) result.rows.push(range);
    else {
      const reason = tooWide === null ? `not an IP range: ${String(JSON.stringify(value)).slice(0, 60)}` : `${String(value)} is ${tooWide}`;
      result.invalid.push({ line: lineOf(value), text: String(JSON.stringify(value) ?? value).slice(0, 80), reason });
    }
  }
  // A crawler copy over the whole-list bound is refused outright: which of its ranges to drop is unknowable.
  const listProblem = use === 'crawlers' ? crawlerListProblem(result.rows) : null;
  if (listProblem !== null) throw new CloudFormatError(`a crawler list refused: ${listProblem}`);
  return { ...result, format: use };
}
