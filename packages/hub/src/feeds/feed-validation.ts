/**
 * Whether a fetched or uploaded copy may replace the last good one. Stricter than `moat data build`
 * (which refuses a source more than half invalid): a feed changes without anyone looking, so an error
 * page, a login wall or a truncated download must never replace a good list.
 */

/** The shape every moat-waf importer returns (good rows, bad lines with reasons, entries seen). */
export interface Imported<Row> {
  rows: Row[];
  /** `line` 0: found after import, where the line is no longer known. */
  invalid: { line: number; reason: string }[];
  lines: number;
}

/** More than this share of invalid entries rejects a copy. */
export const FEED_MAX_INVALID_SHARE = 0.1;

/** The reason a copy is refused, or null when it may be used. */
export function feedProblem(text: string, result: Imported<unknown>): string | null {
  const head = text.slice(0, 512).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<')) return 'the answer is HTML or XML, not a feed';
  const bad = result.invalid.length;
  if (result.rows.length === 0) return bad === 0 ? 'no entries' : `no valid entry among ${bad} (${firstInvalid(result)})`;
  if (bad > result.lines * FEED_MAX_INVALID_SHARE) return `${bad} of ${result.lines} entries are invalid (${firstInvalid(result)})`;
  return null;
}

/** The first bad entry, so the status says what was wrong, not only how much. */
function firstInvalid(result: Imported<unknown>): string {
  const first = result.invalid[0]!;
  return `${first.line > 0 ? `line ${first.line}: ` : ''}${first.reason}`;
}
