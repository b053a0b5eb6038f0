import { HttpError } from '../server/http-error.js';

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
