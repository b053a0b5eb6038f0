/**
 * One password check at a time per account. Concurrent guesses at one account (from one address or
 * many) then take turns instead of all being checked at once, so the failure counts that gate each turn
 * are current when it starts, and an account under spread-out guessing gets at most one guess per turn.
 * At most `maxWaiting` attempts wait per account; more are refused at once (429), which costs no check.
 * A lane exists only while an attempt holds or waits for it, so the map is bounded by attempts in flight.
 */
export const DEFAULT_MAX_WAITING_PER_ACCOUNT = 4;

export interface AccountLaneStats {
  /** Accounts with an attempt in progress now. */
  busy: number;
  /** Attempts waiting for their account's turn now. */
  waiting: number;
  /** Attempts refused because maxWaiting were already waiting on their account. */
  refused: number;
}

interface Lane {
  waiting: (() => void)[];
}

export class AccountLanes {
  private readonly lanes = new Map<string, Lane>();
  private refused = 0;

  constructor(readonly maxWaiting = DEFAULT_MAX_WAITING_PER_ACCOUNT) {}

  /**
   * Waits for the account's turn; resolves to a release function, or to null at once when the lane is
   * full. The release must be called exactly once (in a finally).
   */
  async enter(account: string): Promise<(() => void) | null> {
    const name = account.toLowerCase();
    const lane = this.lanes.get(name);
    if (lane === undefined) {
      this.lanes.set(name, { waiting: [] });
    } else {
      if (lane.waiting.length >= this.maxWaiting) {
        this.refused += 1;
        return null;
      }
      await new Promise<void>((resolve) => lane.waiting.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const current = this.lanes.get(name)!;
      const next = current.waiting.shift();
      // The turn passes straight to the next waiter; the lane goes when nobody waits.
      if (next) next();
      else this.lanes.delete(name);
    };
  }

  stats(): AccountLaneStats {
    let waiting = 0;
    for (const lane of this.lanes.values()) waiting += lane.waiting.length;
    return { busy: this.lanes.size, waiting, refused: this.refused };
  }
}
