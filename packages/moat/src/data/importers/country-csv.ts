/**
 * Country ranges as CSV rows `start,end,country` (the layout of the @ip-location-db packages, e.g. the
 * CC0 `geo-whois-asn-country`). Addresses or integers; `ZZ`, `--`, `XX` or an empty code mean "unknown".
 */
import { csvFields } from './csv-fields.js';
import type { CountryRow, ImportResult } from './import-result.js';
import { isHeader, rangeFromColumns } from './range-columns.js';

const UNKNOWN = new Set(['', 'ZZ', '--', 'XX']);
const CODE = /^[A-Z]{2}$/;

export function importCountryCsv(text: string): ImportResult<CountryRow> {
  const result: ImportResult<CountryRow> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = csvFields(line);
    if (isHeader(i, cols[0])) continue;
    result.lines++;
    const bad = (reason: string) => result.invalid.push({ line: i + 1, text: line.slice(0, 80), reason });
    if (cols.length < 3) {
      bad('expected start,end,country');
      continue;
    }
    const range = rangeFromColumns(cols[0], cols[1]);
    if (typeof range === 'string') {
      bad(range);
      continue;
    }
    const cc = cols[2].toUpperCase();
    if (!UNKNOWN.has(cc) && !CODE.test(cc)) {
      bad(`invalid country code ${JSON.stringify(cols[2].slice(0, 20))}`);
      continue;
    }
    result.rows.push({ range, country: UNKNOWN.has(cc) ? null : cc });
  }
  return result;
}
