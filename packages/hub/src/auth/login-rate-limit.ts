import { AccountLanes } from './account-lanes.js';
import { PasswordCheckGate } from './password-check-gate.js';

/**
 * Failed-sign-in limits, designed so that guessing is slow but nobody can lock the real admin out:
 *
 * - one account from one client (IP): `maxFailures` per window, then 429 for that pair only;
 * - one client across all accounts: `maxFailures × CLIENT_FACTOR` (several people behind one NAT may
 *   each mistype), then 429 for that client;
 * - one account from everywhere (guessing spread over many addresses): never a lock, because failures
 *   from anywhere would then lock the owner out everywhere. Attempts on one account always take turns
 *   (one password check at a time); once the account has `maxFailures` recent failures, each turn also
 *   waits `accountSlowdownMs` first, so the account sees at most one guess per slowdown however many
 *   addresses guess. A correct password from a new client still signs in, only later (or, while a few
 *   attempts already wait their turn, is told to retry shortly: 429).
 *
 * The client is Fastify's `request.ip`, so it follows the hub's `trustProxy` setting. In memory: a
 * restart forgives, and several hub instances count separately.
 *
 * Sign-in routes go through reserve(), not check() then recordFailure(): a check followed by a slow
 * password check let 55 concurrent guesses from one address all pass a limit of 10. A reservation counts
 * as a failure from the moment it is taken until the password proves right (or the attempt is given up
 * before any check), so concurrent attempts see each other. The limiter also holds the two bounds on
 * the checks themselves: one at a time per account (`lanes`) and a few at once hub-wide (`checks`).
 */
export interface LoginRateLimitOptions {
  maxFailures: number;
  windowMs: number;
  /** Wait before checking a password of an account under spread-out guessing (default 2 s). */
  accountSlowdownMs?: number;
  /** Upper bound on tracked keys, so a flood of distinct keys cannot exhaust memory. */
  maxKeys?: number;
  /** Password checks running at once hub-wide, and waiting (see PasswordCheckGate). */
  maxRunningChecks?: number;
  maxWaitingChecks?: number;
  /** Attempts waiting for their account's turn (see AccountLanes). */
  maxWaitingPerAccount?: number;
}

/** What a sign-in attempt must do before its password is checked. */
export interface LoginAttemptLimit {
  /** > 0: refuse now (429); try again after this many milliseconds. */
  retryAfterMs: number;
  /** Wait this long, then check the password. */
  slowdownMs: number;
}

/** An attempt that passed the limits and already counts as a failure; end it with one of the three. */
export interface LoginReservation {
  retryAfterMs: 0;
  /** This reservation brought the account to `maxFailures` recent failures (for the audit log). */
  reachedAccountLimit: boolean;
  /** The password was wrong: the reservation stays counted. */
  failed(): void;
  /** The password was right: the reservation is taken back and this client forgiven. */
  succeeded(): void;
  /** No password was checked (refused for load, an error): the reservation is taken back. */
  cancelled(): void;
}

/** How many more failures one client may have across accounts than on one account. */
const CLIENT_FACTOR = 5;
export const DEFAULT_ACCOUNT_SLOWDOWN_MS = 2000;

export class LoginRateLimiter {
  /** Password checks hub-wide: a few at once, so sign-ins cannot fill libuv's thread pool. */
  readonly checks: PasswordCheckGate;
  /** One attempt at a time per account. */
  readonly lanes: AccountLanes;
  private readonly failures = new Map<string, number[]>();
  private readonly maxKeys: number;
  private readonly slowdownMs: number;

  constructor(private readonly options: LoginRateLimitOptions, private readonly now: () => number = Date.now) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.slowdownMs = options.accountSlowdownMs ?? DEFAULT_ACCOUNT_SLOWDOWN_MS;
    this.checks = new PasswordCheckGate({ maxRunning: options.maxRunningChecks, maxWaiting: options.maxWaitingChecks });
    this.lanes = new AccountLanes(options.maxWaitingPerAccount);
  }

  get maxFailures(): number {
    return this.options.maxFailures;
  }

  /**
   * check() and, when the attempt may go ahead, a failure recorded at once in the same turn of the event
   * loop, so no other attempt can pass the limit on the strength of this one's unfinished check.
   */
  reserve(account: string, client: string): LoginReservation | { retryAfterMs: number } {
    const { retryAfterMs } = this.check(account, client);
    if (retryAfterMs > 0) return { retryAfterMs };
    const at = this.now();
    this.recordFailure(account, client, at);
    const reachedAccountLimit = this.recent(accountKey(account), at).length === this.options.maxFailures;
    let open = true;
    const takeBack = () => {
      for (const key of [pairKey(account, client), clientKey(client), accountKey(account)]) this.forget(key, at);
    };
    return {
      retryAfterMs: 0, reachedAccountLimit,
      failed: () => {
        open = false;
      },
      succeeded: () => {
        if (!open) return;
        open = false;
        takeBack();
        this.recordSuccess(account, client);
      },
      cancelled: () => {
        if (!open) return;
        open = false;
        takeBack();
      },
    };
  }

  /**
   * Wait before an account's turn checks its password: its slowdown while it is being guessed at, else 0.
   * Asked by an attempt holding a reservation, which is not counted against itself.
   */
  accountSlowdownMs(account: string): number {
    return this.recent(accountKey(account), this.now()).length - 1 >= this.options.maxFailures ? this.slowdownMs : 0;
  }

  /** Recent failures of an account from anywhere (for the audit log). */
  accountFailures(account: string): number {
    return this.recent(accountKey(account), this.now()).length;
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

  recordFailure(account: string, client: string, now = this.now()): void {
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

  /** Takes back one failure recorded at `at` (a reservation that turned out not to be one). */
  private forget(key: string, at: number): void {
    const times = this.failures.get(key);
    if (times === undefined) return;
    const index = times.lastIndexOf(at);
    if (index !== -1) times.splice(index, 1);
    if (times.length === 0) this.failures.delete(key);
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
