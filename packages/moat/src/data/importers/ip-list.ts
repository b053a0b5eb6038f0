/**
 * Plain IP lists: one IP, CIDR or `start-end` range per line; `#` and `;` start comments (FireHOL
 * `.netset`, Spamhaus DROP `1.2.3.0/24 ; SBL123`, Tor exit lists).
 */
import { tryParseRange } from '../../ip/range.js';
import type { IpRange } from '../../ip/range.js';
import type { ImportResult } from './import-result.js';

export function importIpList(text: string): ImportResult<IpRange> {
  const result: ImportResult<IpRange> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const cut = lines[i].search(/[#;]/);
    const content = (cut >= 0 ? lines[i].slice(0, cut) : lines[i]).trim();
    if (content === '') continue;
    result.lines++;
    // Some lists put extra columns after the address; the first field is the address.
    const field = /^\S+(?:\s*-\s*\S+)?/.exec(content)?.[0] ?? content;
    const range = tryParseRange(field);
    if (range) result.rows.push(range);
    else result.invalid.push({ line: i + 1, text: content.slice(0, 80), reason: `not an IP, CIDR or range: ${JSON.stringify(field.slice(0, 60))}` });
  }
  return result;
}
