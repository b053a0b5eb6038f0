import type { IpRange } from '../../ip/range.js';
import { MoatError } from '../../errors/moat-error.js';

export interface InvalidLine {
  /** 1-based line of the source (for JSON sources, the line the bad value is on). */
  line: number;
  text: string;
  reason: string;
}

/** What an importer read from one source: good rows, and every bad line with its number. */
export interface ImportResult<T> {
  rows: T[];
  invalid: InvalidLine[];
  /** Entries seen: non-empty, non-comment lines (or JSON entries). */
  lines: number;
}

export interface CountryRow {
  range: IpRange;
  /** ISO 3166 alpha-2, or null when the source says "unknown". */
  country: string | null;
}

export interface AsnRow {
  range: IpRange;
  /** `AS13335`. */
  asn: string;
  org?: string;
}

/** More than this share of invalid entries fails the source. */
export const MAX_INVALID_SHARE = 0.5;

/** Thrown when a source is empty or mostly garbage: shipping an empty list silently would be worse (MOAT_ERR_SOURCE_REJECTED). */
export class SourceRejectedError extends MoatError {
  override readonly name = 'SourceRejectedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_SOURCE_REJECTED', message, options);
  }
}

/** A source that is mostly garbage (or holds nothing) must fail the build rather than ship a silently empty list. */
export function assertMostlyValid(source: string, result: ImportResult<unknown>): void {
  const bad = result.invalid.length;
  if (result.rows.length === 0 && bad === 0) throw new SourceRejectedError(`${source}: no entries; refusing to build from an empty source`);
  if (result.rows.length === 0 || bad > result.lines * MAX_INVALID_SHARE) {
    const first = result.invalid.slice(0, 3).map((l) => `line ${l.line}: ${l.reason}`).join('; ');
    throw new SourceRejectedError(`${source}: ${bad} of ${result.lines} entries are invalid (${first}); refusing to build from it`);
  }
}
