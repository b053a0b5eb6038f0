// The answers Moat gives instead of the app: Blocked → 403 `Blocked` (as Wafris), rate limit → 429
// with Retry-After, cannot judge with failClosed → 503. Fixed answers are built once; only a rate-limit
// answer varies per request (its Retry-After).

import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { BlockResponse, ResponseOption } from './options.js';

const TEXT = 'text/plain; charset=utf-8';

export const DEFAULT_BLOCKED: BlockResponse = Object.freeze({
  status: 403, headers: Object.freeze({ 'content-type': TEXT }), body: 'Blocked',
});
export const DEFAULT_RATE_LIMITED: BlockResponse = Object.freeze({
  status: 429, headers: Object.freeze({ 'content-type': TEXT }), body: 'Too Many Requests',
});
export const UNAVAILABLE: BlockResponse = Object.freeze({
  status: 503, headers: Object.freeze({ 'content-type': TEXT, 'retry-after': '1' }), body: 'Service Unavailable',
});

type Chooser = (decision: Decision, request: MoatHttpRequest) => BlockResponse;

function fixed(option: Partial<BlockResponse> | undefined, fallback: BlockResponse): BlockResponse {
  if (option === undefined) return fallback;
  return Object.freeze({
    status: option.status ?? fallback.status,
    headers: Object.freeze({ ...fallback.headers, ...option.headers }),
    body: option.body ?? fallback.body,
  });
}

/** Seconds as an HTTP delay-seconds value: a whole number, at least 1. */
function retryAfterSeconds(decision: Decision): string {
  const seconds = decision.retryAfter;
  return String(seconds !== undefined && seconds > 1 ? Math.ceil(seconds) : 1);
}

export class Responses {
  private readonly blocked: BlockResponse | Chooser;
  private readonly rateLimited: BlockResponse | Chooser;

  constructor(blocked: ResponseOption | undefined, rateLimited: ResponseOption | undefined) {
    this.blocked = typeof blocked === 'function' ? blocked : fixed(blocked, DEFAULT_BLOCKED);
    this.rateLimited = typeof rateLimited === 'function' ? rateLimited : fixed(rateLimited, DEFAULT_RATE_LIMITED);
  }

  /** The default answer for a Blocked decision, for use when a custom handler fails. */
  fallback(decision: Decision): BlockResponse {
    return decision.category === 'brl' ? withRetryAfter(DEFAULT_RATE_LIMITED, decision) : DEFAULT_BLOCKED;
  }

  /** The answer for a Blocked decision. A custom handler may throw; the caller catches. */
  forBlocked(decision: Decision, request: MoatHttpRequest): BlockResponse {
    if (decision.category === 'brl') {
      const choice = this.rateLimited;
      if (typeof choice === 'function') return choice(decision, request);
      return withRetryAfter(choice, decision);
    }
    const choice = this.blocked;
    return typeof choice === 'function' ? choice(decision, request) : choice;
  }
}

function withRetryAfter(response: BlockResponse, decision: Decision): BlockResponse {
  return { status: response.status, headers: { ...response.headers, 'retry-after': retryAfterSeconds(decision) }, body: response.body };
}
