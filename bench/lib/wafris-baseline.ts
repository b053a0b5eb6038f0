/**
 * The Wafris v2 designs, rebuilt here from their description (docs/wafris-v2.md) to be measured
 * against in the same run. Not Wafris code: the encoding and the query shape as documented.
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { IpRange } from '../../packages/moat/src/ip/range.js';
import { tryParseIp } from '../../packages/moat/src/ip/address.js';

const pad = (v: bigint) => v.toString().padStart(39, '0');

/** A custom_rules-style table of 39-digit members, two rows per range, with an index, default settings. */
export function buildWafrisRangeDb(path: string, ranges: IpRange[]): void {
  const db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.exec('CREATE TABLE blocked_cidr_ranges (member TEXT)');
  const ins = db.prepare('INSERT INTO blocked_cidr_ranges (member) VALUES (?)');
  db.transaction(() => {
    ranges.forEach((r, i) => {
      ins.run(`${pad(r.start)}-${i}`);
      ins.run(`${pad(r.end)}-${i}`);
    });
  })();
  db.exec('CREATE INDEX blocked_cidr_ranges_member ON blocked_cidr_ranges (member)');
  db.close();
}

/** The documented lookup: nearest member above and below the address; a hit when their suffixes agree. */
export class WafrisRangeLookup {
  private readonly db: Db;
  private readonly above: Statement;
  private readonly below: Statement;
  constructor(path: string) {
    this.db = new Database(path, { readonly: true }); // default locking, as the Ruby client opens it
    this.above = this.db.prepare('SELECT member FROM blocked_cidr_ranges WHERE member >= ? ORDER BY member ASC LIMIT 1').pluck();
    this.below = this.db.prepare('SELECT member FROM blocked_cidr_ranges WHERE member < ? ORDER BY member DESC LIMIT 1').pluck();
  }
  lookup(ipText: string): boolean {
    const ip = tryParseIp(ipText);
    if (!ip) return false;
    const key = pad(ip.value);
    const a = this.above.get(key) as string | undefined;
    const b = this.below.get(key) as string | undefined;
    if (!a || !b) return false;
    return a.slice(a.lastIndexOf('-') + 1) === b.slice(b.lastIndexOf('-') + 1);
  }
  close(): void {
    this.db.close();
  }
}

/** Wafris's substring check: every rule tested in turn on each request (here without even the SQL read). */
export function loopMatcher(patterns: string[]): (text: string) => boolean {
  return (text) => {
    const t = text.toLowerCase();
    for (const p of patterns) if (t.includes(p)) return true;
    return false;
  };
}
