// How long the report worker sleeps between drains of the ring. The serving thread never signals it
// (a wake-up call cost the request more than the record itself, see ring-writer.ts), so the worker
// paces itself on the rate records arrive: idle, it drains once per tick; under load, often enough
// that the ring stays at most about an eighth full between drains, so a burst finds room.

/** Shortest sleep: a drain costs a few µs, 200 a second stay well below 0.1 % of a core. */
export const MIN_DRAIN_DELAY_MS = 5;

export class DrainPacing {
  /** Bytes per ms, from recent drains: rises at once with the load, falls by halves. */
  private rate = 0;
  private lastMs = -1;

  constructor(private readonly capacity: number, private readonly maxDelayMs: number) {}

  /** A drain at `nowMs` took `bytes` bytes of records out of the ring. */
  drained(bytes: number, nowMs: number): void {
    if (this.lastMs >= 0) {
      const rate = bytes / Math.max(1, nowMs - this.lastMs);
      this.rate = Math.max(rate, this.rate / 2);
    }
    this.lastMs = nowMs;
  }

  /** Sleep until the next drain: the time to fill an eighth of the ring at the recent rate, within bounds. */
  nextDelayMs(): number {
    if (this.rate <= 0) return this.maxDelayMs;
    return Math.min(this.maxDelayMs, Math.max(MIN_DRAIN_DELAY_MS, Math.floor(this.capacity / 8 / this.rate)));
  }
}
