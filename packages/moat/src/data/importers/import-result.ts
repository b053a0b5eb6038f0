import type { IpRange } from '../../ip/range.js';

export interface InvalidLine {
  line: number;
  text: string;
  reason: string;
}

/** What an importer read from one source: good rows, and every bad line with its number. */
export interface ImportResult<T> {
  rows: T[];
  invalid: InvalidLine[];
  /** Non-empty, non-comment lines seen. */
  lines: number;
}

export interface CountryRow {
  range: IpRange;
  country: string | null;
}

/** A source that is mostly garbage must fail the build rather than ship a silently empty list. */
export function assertMostlyValid(source: string, result: ImportResult<unknown>): void {
  const bad = result.invalid.length;
  if (result.lines > 0 && (result.rows.length === 0 || bad > result.lines / 2)) {
    const first = result.invalid.slice(0, 3).map((l) => `line ${l.line}: ${l.reason}`).join('; ');
    throw new Error(`${source}: ${bad} of ${result.lines} lines are invalid (${first}); refusing to build from it`);
  }
}
