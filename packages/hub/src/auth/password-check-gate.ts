/**
 * A bound on password checks (scrypt, 32 MiB, a few hundred ms each) running at once. scrypt runs on
 * libuv's thread pool (4 threads by default), the same pool every file read of the hub uses: 60 sign-ins
 * with made-up emails held a rules download for 17–25 s before this bound. With at most `maxRunning`
 * checks at once the other threads stay free for files; at most `maxWaiting` more wait their turn, and
 * beyond that an attempt is refused at once (the caller answers 503 with Retry-After) and counted.
 */
export interface PasswordCheckGateOptions {
  /** Checks running at once (default 2: half of libuv's default pool). */
  maxRunning?: number;
  /** Checks waiting for a turn; more are refused (default 16). */
  maxWaiting?: number;
}

export interface PasswordCheckStats {
  running: number;
  waiting: number;
  /** The most checks ever running at once (never above maxRunning). */
  peakRunning: number;
  completed: number;
  /** Checks refused because maxWaiting were already waiting. */
  refused: number;
}

export const DEFAULT_MAX_RUNNING_CHECKS = 2;
export const DEFAULT_MAX_WAITING_CHECKS = 16;

/** Thrown by run() when the queue is full; the caller answers 503 and says when to try again. */
export class PasswordChecksBusy extends Error {
  readonly code = 'password_checks_busy';
  constructor(readonly retryAfterSeconds: number) {
    super('too many sign-ins are being checked; try again shortly');
  }
}

export class PasswordCheckGate {
  readonly maxRunning: number;
  readonly maxWaiting: number;
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly counts = { peakRunning: 0, completed: 0, refused: 0 };

  constructor(options: PasswordCheckGateOptions = {}) {
    this.maxRunning = options.maxRunning ?? DEFAULT_MAX_RUNNING_CHECKS;
    this.maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING_CHECKS;
    if (!Number.isInteger(this.maxRunning) || this.maxRunning < 1) throw new RangeError('maxRunning must be an integer ≥ 1');
    if (!Number.isInteger(this.maxWaiting) || this.maxWaiting < 0) throw new RangeError('maxWaiting must be an integer ≥ 0');
  }

  /** Runs `check` when a turn is free; throws PasswordChecksBusy at once when the queue is full. */
  async run<T>(check: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxRunning) {
      if (this.queue.length >= this.maxWaiting) {
        this.counts.refused += 1;
        // About the time the queue ahead takes to drain (a check is well under a second), at least 1 s.
        throw new PasswordChecksBusy(Math.max(1, Math.ceil(this.queue.length / this.maxRunning)));
      }
      // The finishing check hands its turn over directly, so `running` never drops and rises again.
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running += 1;
    }
    this.counts.peakRunning = Math.max(this.counts.peakRunning, this.running);
    try {
      return await check();
    } finally {
      this.counts.completed += 1;
      const next = this.queue.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  stats(): PasswordCheckStats {
    return { running: this.running, waiting: this.queue.length, ...this.counts };
  }
}
