// "At most once per interval" for recurring events: the first occurrence is reported at once, later
// ones are counted and summarised when the interval has passed. A broken rules engine under load
// must not turn into a log line per request.

export class RateBoundedLog {
  private readonly next = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * Calls `emit` with the number of occurrences not reported since the last report (0 the first
   * time), or counts this one silently when the last report was less than an interval ago.
   */
  report(key: string, emit: (suppressed: number) => void): void {
    const now = this.now();
    const next = this.next.get(key);
    if (next !== undefined && now < next) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return;
    }
    const suppressed = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    this.next.set(key, now + this.intervalMs);
    emit(suppressed);
  }
}
