/** How long a readiness check may take before it counts as failed. */
export const READY_TIMEOUT_MS = 2_000;
/** A check's answer is reused this long, so a flood of probes costs the database one query a second. */
export const READY_REUSE_MS = 1_000;

export type Readiness = { ready: true } | { ready: false; reason: 'timeout' | 'unavailable' };

/**
 * Readiness of the store, bounded and cheap to ask: at most one check runs at a time (concurrent callers
 * share it), an answer is reused for READY_REUSE_MS, and a check that does not answer within the timeout
 * counts as not ready (the late answer is dropped). `/readyz` is public, so this is what keeps a probe
 * flood from taking the pool's connections away from real requests.
 */
export class ReadinessProbe {
  private inFlight: Promise<Readiness> | undefined;
  private last: { at: number; readiness: Readiness } | undefined;
  /** Checks run so far (for tests and status). */
  checks = 0;

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly now: () => number = Date.now,
    private readonly timeoutMs = READY_TIMEOUT_MS,
    private readonly reuseMs = READY_REUSE_MS,
  ) {}

  check(): Promise<Readiness> {
    if (this.last && this.now() - this.last.at < this.reuseMs) return Promise.resolve(this.last.readiness);
    this.inFlight ??= this.run().then((readiness) => {
      this.last = { at: this.now(), readiness };
      this.inFlight = undefined;
      return readiness;
    });
    return this.inFlight;
  }

  private run(): Promise<Readiness> {
    this.checks += 1;
    return new Promise<Readiness>((resolve) => {
      const timer = setTimeout(() => resolve({ ready: false, reason: 'timeout' }), this.timeoutMs);
      this.ping().then(
        () => { clearTimeout(timer); resolve({ ready: true }); },
        () => { clearTimeout(timer); resolve({ ready: false, reason: 'unavailable' }); },
      );
    });
  }
}
