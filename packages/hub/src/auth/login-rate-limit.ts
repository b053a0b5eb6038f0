/**
 * Failed-login limiter: a fixed number of failures per key (client IP, and the email tried) in a sliding
 * window. In memory: a restart forgives, which is acceptable for a single-process hub.
 */
export interface LoginRateLimitOptions {
  maxFailures: number;
  windowMs: number;
  /** Upper bound on tracked keys, so a flood of distinct keys cannot exhaust memory. */
  maxKeys?: number;
}

export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxKeys: number;

  constructor(private readonly options: LoginRateLimitOptions, private readonly now: () => number = Date.now) {
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Milliseconds until another attempt is allowed for any of the keys, or 0 when allowed now. */
  retryAfterMs(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const times = this.recent(key, now);
      if (times.length >= this.options.maxFailures) {
        wait = Math.max(wait, times[0]! + this.options.windowMs - now);
      }
    }
    return wait;
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const times = this.recent(key, now);
      times.push(now);
      this.failures.delete(key);
      this.failures.set(key, times);
    }
    while (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
  }

  reset(keys: readonly string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => t > now - this.options.windowMs);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}
