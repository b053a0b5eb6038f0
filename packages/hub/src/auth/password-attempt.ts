import { setTimeout as sleep } from 'node:timers/promises';
import type { LoginRateLimiter } from './login-rate-limit.js';
import { PasswordChecksBusy } from './password-check-gate.js';

/** How a password attempt ended; only `right` and `wrong` checked a password. */
export type PasswordAttempt =
  | { outcome: 'right' | 'wrong'; reachedAccountLimit: boolean }
  /** Too many failures (this client, on this account or overall), or too many attempts waiting on the account: 429. */
  | { outcome: 'limited'; retryAfterMs: number }
  /** The hub-wide queue of password checks is full: 503. */
  | { outcome: 'busy'; retryAfterMs: number };

/**
 * One password attempt through every bound, in order: the failure limits (a reservation that counts as a
 * failure until the password proves right), the account's turn (one check at a time per account, and
 * the account's slowdown while it is being guessed at), then a hub-wide slot for the check itself.
 * Refusals cost no password check. Shared by sign-in and the password change, which must check
 * `current` under the same limits.
 */
export async function attemptPassword(
  limiter: LoginRateLimiter, account: string, client: string, check: () => Promise<boolean>,
): Promise<PasswordAttempt> {
  const reservation = limiter.reserve(account, client);
  if (!('failed' in reservation)) return { outcome: 'limited', retryAfterMs: reservation.retryAfterMs };
  const release = await limiter.lanes.enter(account);
  if (release === null) {
    // The turns ahead, each at most a slowdown and a check; at least a second.
    const retryAfterMs = Math.max(1000, (limiter.lanes.maxWaiting + 1) * limiter.accountSlowdownMs(account));
    reservation.cancelled();
    return { outcome: 'limited', retryAfterMs };
  }
  try {
    const slowdownMs = limiter.accountSlowdownMs(account);
    if (slowdownMs > 0) await sleep(slowdownMs);
    const right = await limiter.checks.run(check);
    if (right) reservation.succeeded();
    else reservation.failed();
    return { outcome: right ? 'right' : 'wrong', reachedAccountLimit: reservation.reachedAccountLimit };
  } catch (error) {
    reservation.cancelled();
    if (error instanceof PasswordChecksBusy) return { outcome: 'busy', retryAfterMs: error.retryAfterSeconds * 1000 };
    throw error;
  } finally {
    release();
  }
}
