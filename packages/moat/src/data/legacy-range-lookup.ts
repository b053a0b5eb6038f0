/**
 * Light mode for data files built before the `ranges_v4`/`ranges_v6` tables: one seek in `ip_ranges`
 * (flattened, non-overlapping segments, as every Moat build writes them), the segment's `end` compared
 * here, because `end >= ?` in SQL would turn a miss into a scan. About twice the cost of the current
 * layout (see sqlite-range-lookup.ts); kept so an upgraded client still reads its hub's older file.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import type { RangeLookup } from '../ranges/range-table.js';

export class LegacySqliteRangeLookup implements RangeLookup {
  private readonly stmt4: Statement;
  private readonly stmt6: Statement;
  private readonly key4 = Buffer.alloc(4);
  private readonly key16 = Buffer.alloc(16);
  readonly size: number;

  constructor(private readonly db: Db, private readonly setName: string) {
    // One statement per family with the set and family fixed: one bound parameter per call is cheaper.
    const seek = (family: 4 | 6) => db
      .prepare(`SELECT label, "end" FROM ip_ranges WHERE set_name = ${quoteSql(setName)} AND family = ${family} AND start <= ? ORDER BY start DESC LIMIT 1`)
      .raw(true);
    this.stmt4 = seek(4);
    this.stmt6 = seek(6);
    this.size = (db.prepare('SELECT count(*) AS n FROM ip_ranges WHERE set_name = ?').get(setName) as { n: number }).n;
  }

  lookupParsed(family: 4 | 6, words: Uint32Array): number {
    // `words` holds the parsed address, 4 words (the `!`s; no check on the request path).
    let key: Buffer;
    let row: [number, Buffer] | undefined;
    if (family === 4) {
      key = this.key4;
      key.writeUInt32BE(words[0]!, 0);
      row = this.stmt4.get(key) as [number, Buffer] | undefined;
    } else if (family === 6) {
      key = this.key16;
      for (let k = 0; k < 4; k++) key.writeUInt32BE(words[k]!, k * 4);
      row = this.stmt6.get(key) as [number, Buffer] | undefined;
    } else return -1;
    if (row === undefined) return -1;
    return Buffer.compare(key, row[1]) <= 0 ? row[0] : -1;
  }

  close(): void {
    this.db.close();
  }
}

function quoteSql(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
