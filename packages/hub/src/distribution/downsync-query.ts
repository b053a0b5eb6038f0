// What a downsync request asks for through its query: the file format it gets and how long it is
// willing to wait for a change (long poll). Pure parsing; the routes apply the answers.
import type { RulesFormat } from '../store/store.js';
import { HttpError } from '../server/http-error.js';

/**
 * Which file format a downsync client gets: Wafris clients (their `client` parameter starts with
 * "wafris", such as the Ruby gem) or an explicit `format=wafris` get the Wafris layout; everyone else
 * gets Moat's.
 */
export function chooseFormat(query: { client?: string | undefined; format?: string | undefined }): RulesFormat {
  const format = query.format?.toLowerCase();
  if (format === 'wafris' || format === 'moat') return format;
  if (query.client?.trim().toLowerCase().startsWith('wafris')) return 'wafris';
  return 'moat';
}

/**
 * The answer header of a hub that long-polls (Moat clients only; the Wafris gem never asks):
 * - `<seconds>`: this hub holds downsyncs up to that long; ask again at once after any answer;
 * - `busy`: too many held requests (hub or API key cap); poll at your interval;
 * - `closing`: the hub is shutting down; ask again after a short random delay.
 * A 304 without it comes from a hub that does not long-poll.
 */
export const LONG_POLL_HEADER = 'X-Moat-Wait';

/**
 * The `wait` query parameter: whole seconds the client is willing to wait, clamped to the hub's own
 * limit. Absent or 0: answer at once, as for Wafris clients. Anything but digits (negative, NaN, a
 * fraction, an exponent) is a 400, never a hold.
 */
export function waitMs(value: string | undefined, maxMs: number): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,16}$/.test(value)) {
    throw new HttpError(400, 'wait must be a whole number of seconds (0 or more)', 'bad_wait');
  }
  return Math.min(Number(value) * 1000, maxMs);
}
