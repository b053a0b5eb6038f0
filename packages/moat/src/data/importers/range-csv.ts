/**
 * The loop every `start,end,…` range CSV shares: blank lines and `#` comments skipped, a header line
 * skipped, each other line counted and either turned into a row or recorded as invalid with its reason.
 */
import { csvFields } from './csv-fields.js';
import type { ImportResult } from './import-result.js';
import type { IpRange } from '../../ip/range.js';
import { isHeader, rangeFromColumns } from './range-columns.js';

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
