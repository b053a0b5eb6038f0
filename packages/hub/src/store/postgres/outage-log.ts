/** Where the store reports that its database went away and came back (lines without secrets). */
export type OutageLogger = (line: string) => void;

/** At most one "still unavailable" line per this many milliseconds while an outage lasts. */
export const OUTAGE_REPEAT_MS = 60_000;

/**
 * Turns a stream of connection errors and successes into few log lines: one when the database becomes
 * unavailable, at most one a minute while it stays so (with the number of errors since), one when it is
 * back. The connection string is never part of a line; the driver's message is (it names no secrets).
 */
export class OutageLog {
  private downSince: number | undefined;
  private lastLine = 0;
  private errorsSinceLine = 0;
  private errorsInOutage = 0;

  constructor(private readonly log: OutageLogger, private readonly now: () => number = Date.now) {}

  /** True while the last thing seen was a lost connection. */
  get unavailable(): boolean {
    return this.downSince !== undefined;
  }

  /** A lost connection (of any client: idle, checked out, connecting). */
  failed(error: unknown): void {
    const t = this.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.errorsInOutage += 1;
    if (this.downSince === undefined) {
      this.downSince = t;
      this.lastLine = t;
      this.errorsSinceLine = 0;
      this.log(`Moat hub: PostgreSQL is unavailable (${reason}); requests that need it answer 503 until it is back`);
      return;
    }
    this.errorsSinceLine += 1;
    if (t - this.lastLine < OUTAGE_REPEAT_MS) return;
    this.log(`Moat hub: PostgreSQL still unavailable after ${Math.round((t - this.downSince) / 1000)} s `
      + `(${this.errorsSinceLine} connection errors since the last message): ${reason}`);
    this.lastLine = t;
    this.errorsSinceLine = 0;
  }

  /** The clock outages are measured by: stamp a statement with it when it starts, for succeeded(). */
  time(): number {
    return this.now();
  }

  /**
   * A statement that started at `startedAt` (from time()) succeeded: ends an outage, if there was one.
   * One answered before the outage began is no news: when a database crashes, statements already answered
   * on connections not yet cut still resolve just after the first error, and would log a false recovery.
   * Cheap when there is no outage (hot path).
   */
  succeeded(startedAt: number): void {
    if (this.downSince === undefined || startedAt < this.downSince) return;
    const seconds = Math.round((this.now() - this.downSince) / 1000);
    this.log(`Moat hub: PostgreSQL is back after ${seconds} s (${this.errorsInOutage} connection errors)`);
    this.downSince = undefined;
    this.errorsInOutage = 0;
  }
}
