/**
 * A page of reports read from SQLite as one row of columns, for the previews' scans. SQLite walks and
 * decodes a million reports in about 0.2 s, but better-sqlite3 handing them over as one JavaScript row
 * each cost about 0.8 µs a row, most of a preview worker's time. Read as one row per page, each column's
 * values joined by `group_concat` and split here, the same page took 0.75–0.8× as long (interleaved
 * runs, 500 k reports). Exact: a page whose columns do not split into its count of values (a text holding
 * the separator) or whose rows are not in (ts, id) order is read again as rows, by the same query.
 */
import type Database from 'better-sqlite3';

/**
 * A column of the page, positional as the scan's rows: its SQL expression and type (`?`: may be NULL),
 * or null for a column the scan does not read (always null in the rows). The first two are id and ts.
 */
export type PageColumn = { sql: string; type: 'int' | 'int?' | 'text' | 'text?' } | null;

/** Between the values of a text column; a value holding it sends its page to the row read. */
const TEXT_SEPARATOR = '\x1f';

/** The SQL that joins one column's values: NULLs kept apart from empty text ('' against 'v' + the text) and from numbers (''). */
function joined(column: PageColumn, alias: string): string {
  if (column === null) return 'NULL';
  switch (column.type) {
    case 'int': return `group_concat(${alias})`;
    case 'int?': return `group_concat(ifnull(${alias}, ''))`;
    case 'text': return `group_concat(${alias}, char(31))`;
    case 'text?': return `group_concat(CASE WHEN ${alias} IS NULL THEN '' ELSE 'v' || ${alias} END, char(31))`;
  }
}

type Params = unknown[];

export class ColumnPageReader<Row extends unknown[]> {
  private readonly columns: readonly PageColumn[];
  private readonly asColumns: Database.Statement<Params, unknown[]>;
  private readonly asRows: Database.Statement<Params, Row>;

  /** `rest`: the query after its select list (FROM … WHERE … ORDER BY ts, id LIMIT ?), its parameters those of page(). */
  constructor(db: Database.Database, columns: readonly PageColumn[], rest: string) {
    this.columns = columns;
    const list = columns.map((c, i) => `${c === null ? 'NULL' : c.sql} AS c${i}`).join(', ');
    this.asRows = db.prepare<Params, Row>(`SELECT ${list} ${rest}`).raw();
    this.asColumns = db.prepare<Params, unknown[]>(`SELECT count(*), ${columns.map((c, i) => joined(c, `c${i}`)).join(', ')} FROM (SELECT ${list} ${rest})`).raw();
  }

  page(...params: Params): Row[] {
    const page = this.asColumns.get(...params);
    if (page === undefined || page[0] === 0) return [];
    return this.split(page) ?? this.asRows.all(...params);
  }

  /** The rows of a page read as columns, or null when its columns cannot be trusted to line up. */
  private split(page: unknown[]): Row[] | null {
    const count = page[0] as number;
    const columns = this.columns;
    const values: (string[] | null)[] = [];
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      const text = page[c + 1] as string | null;
      if (column === null) {
        values.push(null);
        continue;
      }
      // Never NULL for a column read (NULL values are joined as ''), unless something is amiss: read as rows.
      if (text === null) return null;
      const split = text.split(column.type === 'text' || column.type === 'text?' ? TEXT_SEPARATOR : ',');
      if (split.length !== count) return null;
      values.push(split);
    }
    const rows = new Array<Row>(count);
    let lastTs = -Infinity;
    let lastId = -Infinity;
    for (let i = 0; i < count; i++) {
      const row = new Array<unknown>(columns.length);
      for (let c = 0; c < columns.length; c++) {
        const value = values[c]?.[i];
        const type = columns[c]?.type;
        row[c] = value === undefined ? null
          : type === 'text' ? value
            : type === 'int' ? Number(value)
              : value === '' ? null
                : type === 'int?' ? Number(value) : value.slice(1);
      }
      // The columns share one order, whatever it is; it must be the page's (ts, id) order too.
      const id = row[0] as number;
      const ts = row[1] as number;
      if (ts < lastTs || (ts === lastTs && id <= lastId)) return null;
      lastTs = ts;
      lastId = id;
      rows[i] = row as Row;
    }
    return rows;
  }
}
