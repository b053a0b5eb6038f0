/**
 * The loop every `start,end,…` range CSV shares: blank lines and `#` comments skipped, a header line
 * skipped, each other line counted and either turned into a row or recorded as invalid with its reason.
 */
import { csvFields } from './csv-fields.js';
import type { ImportResult } from './import-result.js';
import type { IpRange } from '../../ip/range.js';
import { isHeader, rangeFromColumns } from './range-columns.js';

/**
 * `layout` names the expected columns (shown when a line has fewer than three); `toRow` reads the
 * columns after the range and returns the row, or a reason it is invalid.
 */
export function importRangeCsv<Row extends object>(
  text: string, layout: string, toRow: (range: IpRange, cols: string[]) => Row | string,
): ImportResult<Row> {
  const result: ImportResult<Row> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = csvFields(line);
    if (isHeader(i, cols[0])) continue;
    result.lines++;
    const row = cols.length < 3 ? `expected ${layout}` : rowOf(cols, toRow);
    if (typeof row === 'string') result.invalid.push({ line: i + 1, text: line.slice(0, 80), reason: row });
    else result.rows.push(row);
  }
  return result;
}

function rowOf<Row>(cols: string[], toRow: (range: IpRange, cols: string[]) => Row | string): Row | string {
  const range = rangeFromColumns(cols[0], cols[1]);
  return typeof range === 'string' ? range : toRow(range, cols);
}
