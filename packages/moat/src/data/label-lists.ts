/**
 * A data label's `lists` column: a JSON array of list names, nothing else (a file from a hub is input).
 * Read the same way whether labels are loaded at open (memory mode) or on demand (light mode).
 */
import { MoatError } from '../errors/moat-error.js';

/**
 * More list names than one range can sensibly carry: a label is the set of lists holding a range, and
 * a data file has a few dozen lists. The bound keeps a crafted label from costing unbounded time later.
 */
export const MAX_LISTS_PER_LABEL = 4096;

export function parseLists(json: unknown): string[] {
  if (typeof json !== 'string') throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'a data label has no list column');
  const lists = JSON.parse(json) as unknown;
  if (!Array.isArray(lists) || lists.length > MAX_LISTS_PER_LABEL || !lists.every((l) => typeof l === 'string')) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `a data label's lists are not an array of at most ${MAX_LISTS_PER_LABEL} names`);
  }
  return lists as string[];
}
