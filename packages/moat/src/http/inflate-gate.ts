// A bound on brotli and zstd inflations in flight, per process. A brotli decoder fills the window its
// sender declares (up to 16 MiB) before it hands out any output, so a 14-byte body costs ~40 ms of a libuv
// thread-pool thread and a 16 MiB buffer whatever the read limit is (docs/frameworks.md). Unbounded, a
// flood of such bodies takes every pool thread (the app's file system, DNS, crypto and zlib wait behind
// it) and 16 MiB each. A zstd decoder (Node 22+) allocates the window its frame declares as well, up to
// 128 MiB by default, and the app's own decoder accepts as much, so the window cannot be capped without
// leaving such bodies unjudged: it goes through the same gate. Through the gate at most two run at once
// and a bounded number wait in order; past that the body's inflated reading is skipped (counted), the
// rest is judged. gzip and deflate need no gate: their 32 KiB window hands output out as it goes.

/** Inflations at once: half of libuv's default pool of four, so the app keeps the other half. */
export const INFLATIONS_AT_ONCE = 2;
/** Inflations waiting, at most; more are refused (each waits for at most ~32 others' turn). */
export const INFLATIONS_WAITING = 64;

export interface InflateGateStats {
  /** Inflations running now, and the most ever running at once. */
  running: number;
  peakRunning: number;
  /** Waiting now, and how many had to wait in all. */
  waiting: number;
  waited: number;
  /** Refused: the queue was full. */
  refused: number;
}

export class InflateGate {
  private running = 0;
  private peakRunning = 0;
  private waited = 0;
  private refused = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly atOnce: number, private readonly maxWaiting: number) {}

  /** Runs `job` when its turn comes; null (and `job` never runs) when the queue is full. */
  run<T>(job: () => Promise<T>): Promise<T> | null {
    if (this.running < this.atOnce) {
      this.running++;
      return this.execute(job);
    }
    if (this.queue.length >= this.maxWaiting) {
      this.refused++;
      return null;
    }
    this.waited++;
    return new Promise<void>((resolve) => this.queue.push(resolve)).then(() => this.execute(job));
  }

  stats(): InflateGateStats {
    return { running: this.running, peakRunning: this.peakRunning, waiting: this.queue.length, waited: this.waited, refused: this.refused };
  }

  /** Runs a job that holds a place (counted in `running`), then hands the place on. */
  private async execute<T>(job: () => Promise<T>): Promise<T> {
    if (this.running > this.peakRunning) this.peakRunning = this.running;
    try {
      return await job();
    } finally {
      // The place passes straight to the next in line, so a run() meanwhile cannot take it too.
      const next = this.queue.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }
}

/** The process's gate for brotli and zstd bodies: the thread pool it protects is the process's too. */
export const windowedInflateGate = new InflateGate(INFLATIONS_AT_ONCE, INFLATIONS_WAITING);

/** Whether a body of this coding is inflated through windowedInflateGate (its decoder allocates a sender-chosen window). */
export function inflatesThroughGate(coding: string): coding is 'br' | 'zstd' {
  return coding === 'br' || coding === 'zstd';
}
