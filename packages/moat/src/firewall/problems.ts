// What the firewall does when something goes wrong: fail open (or answer 503 with failClosed), count
// it, tell the error listeners, and log it at a bounded rate. A broken engine under load must never
// turn into an exception in the app or a log line per request.

import type { MoatErrorCode } from '../errors/codes.js';
import { errorCodeOf } from '../errors/moat-error.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { MoatLogger } from './logger.js';
import type { BlockResponse, MoatErrorEvent, MoatErrorKind } from './options.js';
import { RateBoundedLog } from './rate-bounded-log.js';
import { UNAVAILABLE } from './responses.js';
import type { FirewallCounters } from './stats.js';

export type ErrorListener = (event: MoatErrorEvent) => void;

export class Problems {
  readonly listeners: ErrorListener[] = [];
  /** Shared with the address warnings: one rate bound per kind of event. */
  readonly log: RateBoundedLog;

  constructor(
    private readonly counters: FirewallCounters,
    readonly failClosed: boolean,
    private readonly logger: MoatLogger,
    intervalMs: number,
    now: () => number,
  ) {
    this.log = new RateBoundedLog(intervalMs, now);
  }

  /** Fail open (counted, logged at a bounded rate) or, with failClosed, answer 503. */
  cannotJudge(error: Error, request: MoatHttpRequest | undefined): BlockResponse | null {
    this.counters.engineErrors++;
    this.emit('engine', error, request);
    return this.unjudged();
  }

  /** The answer when no engine judged the request: go on (fail open) or 503 (failClosed); counted. */
  unjudged(): BlockResponse | null {
    if (this.failClosed) {
      this.counters.failedClosed++;
      return UNAVAILABLE;
    }
    this.counters.failedOpen++;
    return null;
  }

  /** A user's function (decision listener, response handler, `user`) threw; the request goes on. */
  hookFailed(error: Error, request: MoatHttpRequest): void {
    this.counters.hookErrors++;
    this.emit('hook', error, request);
  }

  /** Tells every error listener, then logs: start-up failures always, the rest at most once per interval and kind. */
  emit(kind: MoatErrorKind, error: Error, request?: MoatHttpRequest): void {
    const code = errorEventCode(kind, error);
    const event: MoatErrorEvent = request === undefined ? { kind, code, error } : { kind, code, error, request };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // An error handler that throws must not turn into a request failure.
      }
    }
    if (kind === 'startup') {
      this.logger.error({ err: error, code }, 'moat could not load its rules; requests are not judged until it can' +
        (this.failClosed ? ' (answering 503: failClosed)' : ' (failing open)'));
      return;
    }
    this.log.report(kind, (suppressed) => {
      const context: Record<string, unknown> = { err: error, code, kind, suppressed, failClosed: this.failClosed };
      if (request !== undefined) context.request = { method: request.method, path: request.path, ip: request.ip };
      this.logger.error(context, kind === 'engine'
        ? 'moat could not judge a request' + (this.failClosed ? '; answered 503' : '; let it through')
        : kind === 'rateLimitStore'
          ? `the shared rate-limit store did not count the request (${error.message}); this process counted its rate limits itself`
          : kind === 'configuration' ? error.message : 'a moat hook threw; the request went on');
    });
  }
}

/**
 * The code of an error event. An engine failure or a throwing hook is that, whatever was thrown (a hook
 * calling into Moat must not pass for a Moat failure); the other kinds keep the error's own code when it
 * has one (a missing rules file at start is MOAT_ERR_FILE_MISSING).
 */
export function errorEventCode(kind: MoatErrorKind, error: Error): MoatErrorCode {
  switch (kind) {
    case 'engine': return errorCodeOf(error, 'MOAT_ERR_ENGINE') === 'MOAT_ERR_BODY_BUSY' ? 'MOAT_ERR_BODY_BUSY' : 'MOAT_ERR_ENGINE';
    case 'hook': return 'MOAT_ERR_HOOK';
    case 'startup': return errorCodeOf(error, 'MOAT_ERR_STARTUP');
    case 'configuration': return errorCodeOf(error, 'MOAT_ERR_OPTION_INVALID');
    case 'rateLimitStore': return 'MOAT_ERR_RATE_LIMIT_STORE';
  }
}

/** Whatever was thrown, as an Error. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
