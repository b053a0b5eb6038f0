// The answers Moat gives instead of the app: Blocked → 403 `Blocked` (as Wafris), rate limit → 429
// with Retry-After, cannot judge with failClosed → 503. Fixed answers are built once; only a rate-limit
// answer varies per request (its Retry-After).

import type { Decision } from '../engine/decision.js';
import { MoatError, OptionError } from '../errors/moat-error.js';
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

function fixed(option: Partial<BlockResponse> | undefined, fallback: BlockResponse, name: string): BlockResponse {
  if (option === undefined) return fallback;
  const response = Object.freeze({
    status: option.status ?? fallback.status,
    headers: Object.freeze({ ...fallback.headers, ...option.headers }),
    body: option.body ?? fallback.body,
  });
  const problem = unsendable(response);
  if (problem !== null) throw new OptionError(`${name}: ${problem}`);
  return response;
}

/** A header name as HTTP allows it (a token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A character no header value may hold: controls other than tab (CR and LF above all), and anything past latin1. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Why an answer cannot be sent, or null. Node's setHeader() throws on a CR, LF or a character past
 * latin1, and a Response on a bad name: an answer that echoes request text (a decoded path holding
 * `%0d%0a`) threw outside the adapter's reach and took the process down. Checked before anything is written.
 */
export function unsendable(response: BlockResponse): string | null {
  if (typeof response !== 'object' || response === null) return 'the answer must be an object { status, headers?, body? }';
  const status = response.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) return `status must be a whole number from 200 to 599, not ${String(status)}`;
  if (response.body !== undefined && typeof response.body !== 'string') return 'body must be a string';
  const headers = response.headers;
  if (headers === undefined) return null;
  if (typeof headers !== 'object' || headers === null) return 'headers must be an object of strings';
  for (const name in headers) {
    const value = headers[name];
    if (!HEADER_NAME.test(name)) return `header name ${JSON.stringify(name.slice(0, 64))} is not a valid HTTP token`;
    if (value === undefined) continue;
    if (typeof value !== 'string') return `header ${name} must be a string`;
    if (BAD_HEADER_VALUE.test(value)) return `header ${name} holds a character a header cannot carry (CR, LF, another control character, or one past U+00FF)`;
  }
  return null;
}

/** A chosen answer, or the reason it cannot be sent (thrown: the caller counts a hook error and sends the default). */
function checked(response: BlockResponse): BlockResponse {
  const problem = unsendable(response);
  if (problem !== null) throw new MoatError('MOAT_ERR_HOOK', `the blocked/rateLimited option returned an answer that cannot be sent: ${problem}`);
  return response;
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
    this.blocked = typeof blocked === 'function' ? blocked : fixed(blocked, DEFAULT_BLOCKED, 'blocked');
    this.rateLimited = typeof rateLimited === 'function' ? rateLimited : fixed(rateLimited, DEFAULT_RATE_LIMITED, 'rateLimited');
  }

  /** The default answer for a Blocked decision, for use when a custom handler fails. */
  fallback(decision: Decision): BlockResponse {
    return decision.category === 'brl' ? withRetryAfter(DEFAULT_RATE_LIMITED, decision) : DEFAULT_BLOCKED;
  }

  /** The answer for a Blocked decision. A custom handler may throw, or choose an answer that cannot be sent (thrown too); the caller catches. */
  forBlocked(decision: Decision, request: MoatHttpRequest): BlockResponse {
    if (decision.category === 'brl') {
      const choice = this.rateLimited;
      if (typeof choice === 'function') return checked(choice(decision, request));
      return withRetryAfter(choice, decision);
    }
    const choice = this.blocked;
    return typeof choice === 'function' ? checked(choice(decision, request)) : choice;
  }
}

function withRetryAfter(response: BlockResponse, decision: Decision): BlockResponse {
  return { status: response.status, headers: { ...response.headers, 'retry-after': retryAfterSeconds(decision) }, body: response.body };
}
