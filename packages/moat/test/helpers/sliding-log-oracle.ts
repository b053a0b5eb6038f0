// What an exact "N per window" rate limiter must answer, checked against the history of its answers:
// a request is counted exactly when fewer than N were counted in the window before it (the window is
// half-open: (t − W, t]), a refusal's wait is exactly the time until one more would be counted, and no
// interval of one window length ever holds more than N counted requests.
import assert from 'node:assert/strict';
import fc from 'fast-check';

export interface Arrival {
  client: number;
  /** Milliseconds, non-decreasing along the sequence. */
  t: number;
}

/** Random arrival sequences on a deterministic clock: bursts (many gaps of 0) and pauses. */
export function arrivals(clients: number, maxLength: number, maxGapMs: number, minLength = 1): fc.Arbitrary<Arrival[]> {
  const step = fc.record({
    gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: maxGapMs })),
    client: fc.integer({ min: 0, max: clients - 1 }),
  });
  return fc.array(step, { minLength, maxLength }).map((steps) => {
    let t = 60_000_000;
    return steps.map(({ gap, client }) => ({ client, t: (t += gap) }));
  });
}

export class SlidingLogOracle {
  /** Requests counted so far, over all clients. */
  allowed = 0;
  private readonly counted = new Map<number, number[]>();

  constructor(readonly limit: number, readonly windowMs: number) {}

  /** Checks the limiter's answer (`wait`, 0 = counted) to `client` at `t` against the history, then records it. */
  record(client: number, t: number, wait: number): void {
    const times = this.counted.get(client) ?? [];
    this.counted.set(client, times);
    const before = this.inWindowEndingAt(times, t);
    const where = `client ${client} at ${t} (${before} counted in the window before)`;
    if (before < this.limit) {
      assert.equal(wait, 0, `${where}: must be counted`);
      times.push(t);
      this.allowed++;
      return;
    }
    assert.ok(wait > 0, `${where}: must be refused`);
    assert.ok(this.inWindowEndingAt(times, t + wait) < this.limit, `${where}: waiting ${wait} ms is enough`);
    assert.ok(this.inWindowEndingAt(times, t + wait - 1) >= this.limit, `${where}: ${wait} ms is not longer than needed`);
  }

  /** No interval of one window length holds more than `limit` counted requests of one client. */
  assertNeverOver(): void {
    for (const [client, times] of this.counted) {
      let first = 0;
      for (let last = 0; last < times.length; last++) {
        while (times[first] <= times[last] - this.windowMs) first++;
        assert.ok(last - first + 1 <= this.limit, `client ${client}: ${last - first + 1} counted in the window ending at ${times[last]}`);
      }
    }
  }

  /** Counted requests u with end − W < u ≤ end (times are sorted). */
  private inWindowEndingAt(times: readonly number[], end: number): number {
    const upper = firstAbove(times, end);
    return upper - firstAbove(times, end - this.windowMs);
  }
}

function firstAbove(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
