import type { FastifyBaseLogger } from 'fastify';

/** At most one "still failing" line per this many milliseconds while a job keeps failing. */
export const REPEAT_MS = 60_000;

/**
 * Few log lines for a job that runs on a timer and may fail on every tick (a rollup against a broken
 * table): the first failure at error level, then at most one line a minute with the number of failures
 * since, and one warning when the job succeeds again. A failure every two seconds for an hour is 61
 * lines, not 1,800.
 */
export class RecurringFailureLog {
  private failingSince: number | undefined;
  private lastLine = 0;
  private failuresSinceLine = 0;
  private failures = 0;

  constructor(
    private readonly log: FastifyBaseLogger,
    /** What failed, in the message: "rollup", "retention". */
    private readonly job: string,
    private readonly now: () => number = Date.now,
  ) {}

  failed(error: unknown): void {
    const t = this.now();
    this.failures += 1;
    if (this.failingSince === undefined) {
      this.failingSince = t;
      this.lastLine = t;
      this.failuresSinceLine = 0;
      this.log.error({ err: error }, `${this.job} failed; retried on every tick, logged at most once a minute until it works again`);
      return;
    }
    this.failuresSinceLine += 1;
    if (t - this.lastLine < REPEAT_MS) return;
    this.log.error({ err: error, failures: this.failuresSinceLine, failingForSeconds: Math.round((t - this.failingSince) / 1000) },
      `${this.job} still failing`);
    this.lastLine = t;
    this.failuresSinceLine = 0;
  }

  succeeded(): void {
    if (this.failingSince === undefined) return;
    this.log.warn({ failures: this.failures, failedForSeconds: Math.round((this.now() - this.failingSince) / 1000) },
      `${this.job} works again`);
    this.failingSince = undefined;
    this.failures = 0;
  }
}
