// The country of a reported IP, for the dashboard's country tables, answered from the Moat data file
// the hub serves. Loaded once at start (ranges in memory, a binary search per lookup); a hub without a
// data file answers null, as before. The same lookup also answers everything else the file knows of an
// address (network, lists), for the IP page, without loading the file twice.

import { loadDataFile, type DataLabel } from 'moat-waf';
import { parseIpInto } from 'moat-waf/ip';

export interface CountryLookup {
  (ip: string): string | null;
  /** What the data file says of an address (country, ASN, lists), or null when no range holds it. */
  labelOf?: (ip: string) => DataLabel | null;
  /** Whether the file holds any ASN / any IP list at all, so "unknown" can say why. */
  hasAsnData?: boolean;
  hasListData?: boolean;
}

export function countryLookupFromDataFile(path: string): CountryLookup {
  const data = loadDataFile(path, 'memory');
  const words = new Uint32Array(4);
  const labelOf = (ip: string): DataLabel | null => {
    const family = parseIpInto(ip, words);
    if (family !== 4 && family !== 6) return null;
    const label = data.table.lookupParsed(family, words);
    return label < 0 ? null : data.labels[label] ?? null;
  };
  return Object.assign((ip: string) => labelOf(ip)?.country ?? null, {
    labelOf,
    hasAsnData: data.labels.some((l) => l.asn !== null),
    hasListData: data.listNames.length > 0,
  });
}
