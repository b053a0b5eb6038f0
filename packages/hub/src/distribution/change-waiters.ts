// Downsync requests held open until their site's rules change (long-poll). A waiter is a few small
// objects (an entry, a timer, a resolver): no buffer is read or kept for it. Waking a site is one pass over
// a Set; each woken request then answers the usual way (200 with the file, or 304).

/** Why a held request stopped waiting. */
export type WakeReason = 'changed' | 'timeout' | 'closing' | 'gone';

export interface LongPollLimits {
  /** Longest hold of one request, ms (below common proxy idle timeouts of 30–60 s). */
  timeoutMs: number;
  /** Held requests on this hub at most; further ones are answered at once and told to poll. */
  maxWaiters: number;
  /** Held requests of one API key at most (one leaked key cannot take every slot). */
  maxWaitersPerKey: number;
}

export const DEFAULT_LONG_POLL: LongPollLimits = { timeoutMs: 25_000, maxWaiters: 10_000, maxWaitersPerKey: 2_000 };

export interface ChangeWaitersStats {
  waiting: number;
  held: number;
  woken: number;
  timedOut: number;
  disconnected: number;
  released: number;
  refusedHub: number;
  refusedKey: number;
}

interface Waiter {
  readonly siteId: number;
  readonly keyId: number;
  timer: NodeJS.Timeout | undefined;
  resolve(reason: WakeReason): void;
  detach(): void;
}

/** Cut-off reasons for `wait()`: the hub-wide or the per-key cap is reached. */
export type WaitRefusal = 'busy-hub' | 'busy-key';

export class ChangeWaiters {
  private readonly bySite = new Map<number, Set<Waiter>>();
  private readonly perKey = new Map<number, number>();
  /** Changes seen per site (one number per site that ever changed while this hub ran). */
  private readonly generations = new Map<number, number>();
  private size = 0;
  private closing = false;
  private readonly counts = { held: 0, woken: 0, timedOut: 0, disconnected: 0, released: 0, refusedHub: 0, refusedKey: 0 };

  constructor(readonly limits: LongPollLimits = DEFAULT_LONG_POLL) {}

  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Holds until the site changes, `timeoutMs` passes, the hub closes or `connection` closes (the client
   * went away). Returns a refusal at once, without holding anything, when a cap is reached or the hub is
   * closing.
   */
  wait(siteId: number, keyId: number, timeoutMs: number, connection: NodeJS.EventEmitter): Promise<WakeReason> | WaitRefusal | 'closing' {
    if (this.closing) return 'closing';
    if (this.size >= this.limits.maxWaiters) {
      this.counts.refusedHub++;
      return 'busy-hub';
    }
    const ofKey = this.perKey.get(keyId) ?? 0;
    if (ofKey >= this.limits.maxWaitersPerKey) {
      this.counts.refusedKey++;
      return 'busy-key';
    }
    let site = this.bySite.get(siteId);
    if (site === undefined) {
      site = new Set();
      this.bySite.set(siteId, site);
    }
    const set = site;
    this.size++;
    this.perKey.set(keyId, ofKey + 1);
    this.counts.held++;
    return new Promise<WakeReason>((resolvePromise) => {
      const onClose = () => waiter.resolve('gone');
      const waiter: Waiter = {
        siteId, keyId, timer: undefined,
        resolve: (reason) => {
          if (!set.delete(waiter)) return; // settled already
          waiter.detach();
          this.size--;
          const left = (this.perKey.get(keyId) ?? 1) - 1;
          if (left <= 0) this.perKey.delete(keyId);
          else this.perKey.set(keyId, left);
          if (set.size === 0 && this.bySite.get(siteId) === set) this.bySite.delete(siteId);
          if (reason === 'changed') this.counts.woken++;
          else if (reason === 'timeout') this.counts.timedOut++;
          else if (reason === 'gone') this.counts.disconnected++;
          else this.counts.released++;
          resolvePromise(reason);
        },
        detach: () => {
          clearTimeout(waiter.timer);
          connection.removeListener('close', onClose);
        },
      };
      set.add(waiter);
      waiter.timer = setTimeout(() => waiter.resolve('timeout'), Math.max(0, timeoutMs));
      connection.once('close', onClose);
    });
  }

  /**
   * Counts the site's changes. A request reads it before looking up the current file and compares it
   * before it is held: a change that landed in between is not missed (it is not waiting yet to be woken).
   */
  generation(siteId: number): number {
    return this.generations.get(siteId) ?? 0;
  }

  /** Wakes every request held for the site (its rules changed). Returns how many. */
  wake(siteId: number): number {
    this.generations.set(siteId, this.generation(siteId) + 1);
    const site = this.bySite.get(siteId);
    if (site === undefined) return 0;
    // A copy: each resolve removes its waiter from the live set.
    const waiters = [...site];
    for (const waiter of waiters) waiter.resolve('changed');
    return waiters.length;
  }

  /** Wakes every held request (changes may have been missed): each re-checks its file. */
  wakeAll(): number {
    let woken = 0;
    for (const siteId of new Set([...this.bySite.keys(), ...this.generations.keys()])) woken += this.wake(siteId);
    return woken;
  }

  /** The hub is shutting down: every held request is answered now and no new one is held. */
  releaseAll(): number {
    this.closing = true;
    let released = 0;
    for (const site of [...this.bySite.values()]) {
      for (const waiter of [...site]) {
        waiter.resolve('closing');
        released++;
      }
    }
    return released;
  }

  stats(): ChangeWaitersStats {
    return { waiting: this.size, ...this.counts };
  }
}
