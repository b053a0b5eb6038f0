/**
 * Failed-sign-in limits, designed so that guessing is slow but nobody can lock the real admin out:
 *
 * - one account from one client (IP): `maxFailures` per window, then 429 for that pair only;
 * - one client across all accounts: `maxFailures × CLIENT_FACTOR` (several people behind one NAT may
 *   each mistype), then 429 for that client;
 * - one account from everywhere (guessing spread over many addresses): never a lock, because failures
 *   from anywhere would then lock the owner out everywhere; once the account has `maxFailures` recent
 *   failures, every attempt on it waits `accountSlowdownMs` before its password is checked. A correct
 *   password from a new client still signs in, only later.
 *
 * The client is Fastify's `request.ip`, so it follows the hub's `trustProxy` setting. In memory: a
 * restart forgives, and several hub instances count separately.
 */
export interface LoginRateLimitOptions {
  maxFailures: number;
  windowMs: number;
  /** Wait before checking a password of an account under spread-out guessing (default 2 s). */
  accountSlowdownMs?: number;
  /** Upper bound on tracked keys, so a flood of distinct keys cannot exhaust memory. */
  maxKeys?: number;
}

/** What a sign-in attempt must do before its password is checked. */
export interface LoginAttemptLimit {
  /** > 0: refuse now (429); try again after this many milliseconds. */
  retryAfterMs: number;
  /** Wait this long, then check the password. */
  slowdownMs: number;
}

/** How many more failures one client may have across accounts than on one account. */
const CLIENT_FACTOR = 5;
export const DEFAULT_ACCOUNT_SLOWDOWN_MS = 2000;

export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxKeys: number;
  private readonly slowdownMs: number;

  constructor(private readonly options: LoginRateLimitOptions, private readonly now: () => number = Date.now) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.slowdownMs = options.accountSlowdownMs ?? DEFAULT_ACCOUNT_SLOWDOWN_MS;
  }

  check(account: string, client: string): LoginAttemptLimit {
    const now = this.now();
    const { maxFailures } = this.options;
    const retryAfterMs = Math.max(
      this.waitMs(pairKey(account, client), maxFailures, now),
      this.waitMs(clientKey(client), maxFailures * CLIENT_FACTOR, now),
    );
    const underAttack = this.recent(accountKey(account), now).length >= maxFailures;
    return { retryAfterMs, slowdownMs: underAttack ? this.slowdownMs : 0 };
  }

  recordFailure(account: string, client: string): void {
    const now = this.now();
    for (const key of [pairKey(account, client), clientKey(client), accountKey(account)]) {
      const times = this.recent(key, now);
      times.push(now);
      // Only the latest failures decide anything: a bounded list keeps each check cheap under a flood.
      if (times.length > this.options.maxFailures * CLIENT_FACTOR) times.shift();
      // Re-insert so the map's order is least recently failed first, for eviction.
      this.failures.delete(key);
      this.failures.set(key, times);
    }
    while (this.failures.size > this.maxKeys) {
      this.failures.delete(this.failures.keys().next().value as string);
    }
  }

  /** A correct password forgives this client; the account-wide count stays, as others may be guessing. */
  recordSuccess(account: string, client: string): void {
    this.failures.delete(pairKey(account, client));
    this.failures.delete(clientKey(client));
  }

  private waitMs(key: string, limit: number, now: number): number {
    const times = this.recent(key, now);
    return times.length >= limit ? times[times.length - limit]! + this.options.windowMs - now : 0;
  }

  private recent(key: string, now: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => t > now - this.options.windowMs);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}

const pairKey = (account: string, client: string) => `pair:${account.toLowerCase()}|${client}`;
const clientKey = (client: string) => `client:${client}`;
const accountKey = (account: string) => `account:${account.toLowerCase()}`;
