/**
 * Country ranges as CSV rows `start,end,country` (the layout of the @ip-location-db packages).
 * `ZZ`, `--` or an empty code mean "unknown" and are kept as such.
 */
import { tryParseRange } from '../../ip/range.js';
import type { CountryRow, ImportResult } from './import-result.js';

const UNKNOWN = new Set(['', 'ZZ', '--', 'XX']);

export function importCountryCsv(text: string): ImportResult<CountryRow> {
  const result: ImportResult<CountryRow> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    result.lines++;
    const cols = line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    const bad = (reason: string) => result.invalid.push({ line: i + 1, text: line.slice(0, 80), reason });
    if (cols.length < 3) {
      // A header row is not an error.
      if (i === 0 && !/\d/.test(line)) result.lines--;
      else bad('expected start,end,country');
      continue;
    }
    if (i === 0 && /^[a-z_ ]+$/i.test(cols[0])) {
      result.lines--; // header
      continue;
    }
    const range = tryParseRange(`${cols[0]}-${cols[1]}`);
    if (!range) {
      bad(`invalid range ${JSON.stringify(`${cols[0]}-${cols[1]}`.slice(0, 60))}`);
      continue;
    }
    const cc = cols[2].toUpperCase();
    if (!UNKNOWN.has(cc) && !/^[A-Z]{2}$/.test(cc)) {
      bad(`invalid country code ${JSON.stringify(cols[2].slice(0, 20))}`);
      continue;
    }
    result.rows.push({ range, country: UNKNOWN.has(cc) ? null : cc });
  }
  return result;
}
