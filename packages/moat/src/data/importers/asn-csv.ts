/**
 * ASN ranges as CSV rows `start,end,asn,organisation` (the layout of `@ip-location-db/asn`); the
 * organisation may be quoted and hold commas. ASNs are stored as `AS<number>`, the form rules use.
 */
import { csvFields } from './csv-fields.js';
import type { AsnRow, ImportResult } from './import-result.js';
import { isHeader, rangeFromColumns } from './range-columns.js';

const ASN = /^(?:AS)?(\d{1,10})$/i;

export function importAsnCsv(text: string): ImportResult<AsnRow> {
  const result: ImportResult<AsnRow> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = csvFields(line);
    if (isHeader(i, cols[0])) continue;
    result.lines++;
    const bad = (reason: string) => result.invalid.push({ line: i + 1, text: line.slice(0, 80), reason });
    if (cols.length < 3) {
      bad('expected start,end,asn,organisation');
      continue;
    }
    const range = rangeFromColumns(cols[0], cols[1]);
    if (typeof range === 'string') {
      bad(range);
      continue;
    }
    const m = ASN.exec(cols[2]);
    if (!m || Number(m[1]) > 4294967295) {
      bad(`invalid ASN ${JSON.stringify(cols[2].slice(0, 20))}`);
      continue;
    }
    const org = cols.length > 3 ? cols.slice(3).join(',') : '';
    result.rows.push(org ? { range, asn: `AS${Number(m[1])}`, org } : { range, asn: `AS${Number(m[1])}` });
  }
  return result;
}
