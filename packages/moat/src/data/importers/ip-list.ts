/**
 * Plain IP lists: one IP, CIDR or `start-end` range per line; `#` and `;` start comments. Covers
 * FireHOL `.netset`, Spamhaus DROP text (`1.2.3.0/24 ; SBL123`) and its NDJSON form
 * (`{"cidr":"1.2.3.0/24","sblid":…}`), Tor bulk exit lists (one address per line) and Tor
 * `exit-addresses` (`ExitAddress 1.2.3.4 2024-01-01 12:00:00`; its other record lines are skipped).
 */
import { tryParseRange } from '../../ip/range.js';
import type { IpRange } from '../../ip/range.js';
import type { ImportResult } from './import-result.js';

/** Lines of Tor's exit-addresses records that carry no address. */
const TOR_RECORD = /^(ExitNode|Published|LastStatus)\b/;
const TOR_EXIT = /^ExitAddress\s+(\S+)/;

/** The address text of one content line, null when the line carries none, or a reason it is bad. */
function addressField(content: string): { text: string } | null | string {
  if (content.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(content);
    } catch {
      return 'not valid JSON';
    }
    const o = obj as Record<string, unknown>;
    if (typeof o.cidr === 'string') return { text: o.cidr };
    if (o.type === 'metadata') return null; // Spamhaus NDJSON ends with a metadata record
    return 'JSON line without a "cidr"';
  }
  const tor = TOR_EXIT.exec(content);
  if (tor) return { text: tor[1]! }; // the pattern's one group always takes part in a match
  if (TOR_RECORD.test(content)) return null;
  // Some lists put extra columns after the address; the first field (or `a - b`) is the address.
  return { text: /^\S+(?:\s*-\s*[^\s#;]+)?/.exec(content)?.[0] ?? content };
}

export function importIpList(text: string): ImportResult<IpRange> {
  const result: ImportResult<IpRange> = { rows: [], invalid: [], lines: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    let content = raw;
    if (!raw.startsWith('{')) {
      const cut = raw.search(/[#;]/);
      if (cut >= 0) content = raw.slice(0, cut).trim();
    }
    if (content === '') continue;
    const field = addressField(content);
    if (field === null) continue;
    result.lines++;
    if (typeof field === 'string') {
      result.invalid.push({ line: i + 1, text: content.slice(0, 80), reason: field });
      continue;
    }
    const range = tryParseRange(field.text);
    if (range) result.rows.push(range);
    else result.invalid.push({ line: i + 1, text: content.slice(0, 80), reason: `not an IP, CIDR or range: ${JSON.stringify(field.text.slice(0, 60))}` });
  }
  return result;
}
