/**
 * ASN ranges as CSV rows `start,end,asn,organisation` (the layout of `@ip-location-db/asn`); the
 * organisation may be quoted and hold commas. ASNs are stored as `AS<number>`, the form rules use.
 */
import type { AsnRow, ImportResult } from './import-result.js';
import { importRangeCsv } from './range-csv.js';

const ASN = /^(?:AS)?(\d{1,10})$/i;

export function importAsnCsv(text: string): ImportResult<AsnRow> {
  return importRangeCsv<AsnRow>(text, 'start,end,asn,organisation', (range, cols) => {
    const m = ASN.exec(cols[2]);
    if (!m || Number(m[1]) > 4294967295) return `invalid ASN ${JSON.stringify(cols[2].slice(0, 20))}`;
    const org = cols.length > 3 ? cols.slice(3).join(',') : '';
    return org ? { range, asn: `AS${Number(m[1])}`, org } : { range, asn: `AS${Number(m[1])}` };
  });
}
