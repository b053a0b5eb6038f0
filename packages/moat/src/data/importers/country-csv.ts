/**
 * Country ranges as CSV rows `start,end,country` (the layout of the @ip-location-db packages, e.g. the
 * CC0 `geo-whois-asn-country`). Addresses or integers; `ZZ`, `--`, `XX` or an empty code mean "unknown".
 */
import type { CountryRow, ImportResult } from './import-result.js';
import { importRangeCsv } from './range-csv.js';

const UNKNOWN = new Set(['', 'ZZ', '--', 'XX']);
const CODE = /^[A-Z]{2}$/;

export function importCountryCsv(text: string): ImportResult<CountryRow> {
  return importRangeCsv<CountryRow>(text, 'start,end,country', (range, cols) => {
    const cc = cols[2].toUpperCase();
    if (!UNKNOWN.has(cc) && !CODE.test(cc)) return `invalid country code ${JSON.stringify(cols[2].slice(0, 20))}`;
    return { range, country: UNKNOWN.has(cc) ? null : cc };
  });
}
