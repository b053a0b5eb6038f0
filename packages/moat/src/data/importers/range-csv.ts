/**
 * Range CSV importers: country (`start,end,country`) and ASN (`start,end,asn,organisation`) rows, the
 * layouts of the @ip-location-db packages, read by one shared loop: blank lines and `#` comments
 * skipped, a header line skipped, each other line counted and either turned into a row or recorded as
 * invalid with its reason. The `start,end` columns come in two shapes: addresses
 * (`1.0.0.0,1.0.0.255`) and integers (`16777216,16777471`, the `-num.csv` files). Integers are read as
 * IPv4 when both are below 2^32 and as IPv6 otherwise, the same convention as the Wafris encoding.
 */
import type { AsnRow, CountryRow, ImportResult } from './import-result.js';
import { scanIp } from '../../ip/parse-into.js';
import { tryParseRange } from '../../ip/range.js';
import type { IpRange } from '../../ip/range.js';

// Country and ASN rows.

const UNKNOWN_COUNTRY = new Set(['', 'ZZ', '--', 'XX']);
const COUNTRY_CODE = /^[A-Z]{2}$/;

/** Country ranges (e.g. the CC0 `geo-whois-asn-country`). `ZZ`, `--`, `XX` or an empty code mean "unknown". */
export function importCountryCsv(text: string): ImportResult<CountryRow> {
  return importRangeCsv<CountryRow>(text, 'start,end,country', (range, cols) => {
    const cc = cols[2].toUpperCase();
    if (!UNKNOWN_COUNTRY.has(cc) && !COUNTRY_CODE.test(cc)) return `invalid country code ${JSON.stringify(cols[2].slice(0, 20))}`;
    return { range, country: UNKNOWN_COUNTRY.has(cc) ? null : cc };
  });
}

const ASN = /^(?:AS)?(\d{1,10})$/i;

/**
 * ASN ranges (the layout of `@ip-location-db/asn`); the organisation may be quoted and hold commas.
 * ASNs are stored as `AS<number>`, the form rules use.
 */
export function importAsnCsv(text: string): ImportResult<AsnRow> {
  return importRangeCsv<AsnRow>(text, 'start,end,asn,organisation', (range, cols) => {
    const m = ASN.exec(cols[2]);
    if (!m || Number(m[1]) > 4294967295) return `invalid ASN ${JSON.stringify(cols[2].slice(0, 20))}`;
    const org = cols.length > 3 ? cols.slice(3).join(',') : '';
    return org ? { range, asn: `AS${Number(m[1])}`, org } : { range, asn: `AS${Number(m[1])}` };
  });
}

// The shared loop.

/** A line's fields once it has the three every range row needs: start, end and the first value. */
export type RangeColumns = [start: string, end: string, value: string, ...rest: string[]];

/**
 * `layout` names the expected columns (shown when a line has fewer than three); `toRow` reads the
 * columns after the range and returns the row, or a reason it is invalid.
 */
export function importRangeCsv<Row extends object>(
  text: string, layout: string, toRow: (range: IpRange, cols: RangeColumns) => Row | string,
): ImportResult<Row> {
  const result: ImportResult<Row> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = csvFields(line);
    if (isHeader(i, cols[0]!)) continue; // csvFields returns at least one field
    result.lines++;
    const row = hasRangeColumns(cols) ? rowOf(cols, toRow) : `expected ${layout}`;
    if (typeof row === 'string') result.invalid.push({ line: i + 1, text: line.slice(0, 80), reason: row });
    else result.rows.push(row);
  }
  return result;
}

function hasRangeColumns(cols: string[]): cols is RangeColumns {
  return cols.length >= 3;
}

function rowOf<Row>(cols: RangeColumns, toRow: (range: IpRange, cols: RangeColumns) => Row | string): Row | string {
  const range = rangeFromColumns(cols[0], cols[1]);
  return typeof range === 'string' ? range : toRow(range, cols);
}

// Columns and fields.

const DIGITS = /^\d{1,39}$/;
const V4_LIMIT = 1n << 32n;
const V6_LIMIT = 1n << 128n;
const scratch = new Uint32Array(4);

/** The range, or a reason it is not one. */
export function rangeFromColumns(start: string, end: string): IpRange | string {
  if (DIGITS.test(start) && DIGITS.test(end)) {
    const s = BigInt(start);
    const e = BigInt(end);
    if (e >= V6_LIMIT) return 'integer above the IPv6 space';
    if (s > e) return 'start is after end';
    return { family: e < V4_LIMIT ? 4 : 6, start: s, end: e };
  }
  // Fast path for the common dotted IPv4 row (most of a million rows); anything else goes the general way.
  if (!start.includes(':') && !end.includes(':') && scanIp(start, scratch) === 4) {
    const s = scratch[0]!; // scanIp wrote the IPv4 address there (the `!`s)
    if (scanIp(end, scratch) === 4) return s <= scratch[0]! ? { family: 4, start: BigInt(s), end: BigInt(scratch[0]!) } : 'start is after end';
  }
  const range = tryParseRange(`${start}-${end}`);
  return range ?? `invalid range ${JSON.stringify(`${start},${end}`.slice(0, 60))}`;
}

/** A first line without any digit in its first column is a header, not an error. */
export function isHeader(lineIndex: number, firstColumn: string): boolean {
  return lineIndex === 0 && !/\d/.test(firstColumn);
}

/** Splits one CSV line into fields: commas separate, double quotes enclose, `""` is a quote inside quotes. */
export function csvFields(line: string): string[] {
  if (!line.includes('"')) return line.split(',').map((f) => f.trim());
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field.trim());
      field = '';
    } else field += c;
  }
  out.push(field.trim());
  return out;
}
