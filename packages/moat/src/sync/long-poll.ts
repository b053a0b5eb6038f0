// Push-speed downsync: the client asks "anything newer than my file?" with `wait=<seconds>` and the hub
// holds the request until the site's rules change or the hold ends. The hub says it did so in the
// `X-Moat-Wait` answer header; what that header says decides when the client asks next. The first request
// (and the first after the hub said busy or closing) offers `wait=0`: a probe answered at once. A hub that does
// not know the parameter answers at once without the header: the client then polls at its interval, so
// long-poll needs nothing from an old hub (nor from the Wafris gem, which never sends `wait`).
import { jittered } from './backoff.js';

export const LONG_POLL_HEADER = 'x-moat-wait';

/** Default hold asked for: below common proxy idle timeouts (30–60 s). */
export const DEFAULT_LONG_POLL_SECONDS = 25;
/** After a hub says it is closing, clients come back spread over this window, not in the same millisecond. */
export const RECONNECT_SPREAD_MS = 2000;
/**
 * A held request that came back empty sooner than this is not asked again at once (a hub or proxy that
 * acknowledges holds but answers at once would otherwise make a busy loop).
 */
export const MIN_EMPTY_HOLD_MS = 1000;

/** What the hub's header said about the last request. */
export type PushAnswer =
  | { kind: 'held'; seconds: number }
  | { kind: 'busy' }
  | { kind: 'closing' }
  | { kind: 'none' };

export const NO_PUSH: PushAnswer = { kind: 'none' };

export function readPushAnswer(header: string | null): PushAnswer {
  if (header === null) return NO_PUSH;
  const value = header.trim().toLowerCase();
  if (value === 'busy') return { kind: 'busy' };
  if (value === 'closing') return { kind: 'closing' };
  if (/^\d{1,6}$/.test(value) && Number(value) > 0) return { kind: 'held', seconds: Number(value) };
  return NO_PUSH;
}

/**
 * Seconds to offer in the next request: the full hold once the hub has said it holds, else 0 — a probe
 * the hub answers at once (with its header when it long-polls), so a hub that never holds is never
 * waited on longer than a plain poll.
 */
export function waitToOffer(previous: PushAnswer, longPollSeconds: number): number {
  return previous.kind === 'held' ? longPollSeconds : 0;
}

/**
 * Milliseconds until the next downsync after an answer (200 or 304): at once after a hold, soon and
 * spread after `closing`, the poll interval otherwise (an old hub, or one over its cap).
 */
export function nextAskDelay(answer: PushAnswer,
  outcome: { status: number; tookMs: number; waitSeconds: number; intervalMs: number; jitter: number },
  random: () => number = Math.random): number {
  switch (answer.kind) {
    case 'held':
      // A probe (wait=0) that learnt the hub holds is followed by a held request at once.
      if (outcome.waitSeconds === 0) return 0;
      return outcome.status === 304 && outcome.tookMs < MIN_EMPTY_HOLD_MS ? MIN_EMPTY_HOLD_MS - outcome.tookMs : 0;
    case 'closing':
      return Math.round(random() * RECONNECT_SPREAD_MS);
    default:
      return jittered(outcome.intervalMs, outcome.jitter, random);
  }
}
