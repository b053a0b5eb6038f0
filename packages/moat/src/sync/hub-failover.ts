// Several hubs behind one client, without a load balancer: requests go to the current hub and stay there
// while it answers (sticky, so hubs that all work never see a client rotate); a request that fails
// because the hub is unreachable or overloaded moves the next request to the next hub in the list.
// The caller's own backoff decides when that next request is made. Downsync and upsync each hold their
// own HubFailover, so each follows whichever hub answers it.
import { SyncError } from './sync-error.js';
import { OptionError } from '../errors/moat-error.js';

export interface HubStatus {
  /** The endpoint base, e.g. `https://hub-a.example.com/v2/downsync` (the API key is added per request). */
  url: string;
  current: boolean;
  /** Requests that found this hub unavailable (see isHubUnavailable); other errors are the caller's to report. */
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastFailureAt: number | null;
  lastSuccessAt: number | null;
}

export interface HubFailoverStatus {
  /** The endpoint requests go to now. */
  current: string;
  /** Times requests moved to another hub. */
  switches: number;
  hubs: HubStatus[];
}

/**
 * Failures that say the hub is away or overloaded rather than that the request or the key is wrong:
 * no connection, no answer in time, a body cut off, 5xx, 408, 429. Refusals (401/403, other 4xx) and
 * files that fail verification are the same on every hub of a site and stay where they are.
 */
export function isHubUnavailable(error: Error): boolean {
  if (!(error instanceof SyncError)) return false;
  const reason = error.reason;
  if (reason === 'network' || reason === 'timeout' || reason === 'truncated') return true;
  if (!reason.startsWith('http-')) return false;
  const status = Number(reason.slice(5));
  return status >= 500 || status === 408 || status === 429;
}

export class HubFailover {
  private readonly hubs: HubStatus[];
  private index = 0;
  private switches = 0;

  constructor(
    urls: readonly string[],
    private readonly now: () => number,
    /** Hears every move to another hub (the managed firewall logs it at a bounded rate). */
    private readonly onSwitch: (from: string, to: string, error: Error) => void = () => {},
  ) {
    if (urls.length === 0) throw new OptionError('HubFailover needs at least one URL');
    this.hubs = urls.map((url) => ({
      url, current: false, failures: 0, consecutiveFailures: 0, lastError: null, lastFailureAt: null, lastSuccessAt: null,
    }));
  }

  get current(): string {
    return this.hubs[this.index]!.url; // index < hubs.length, and the constructor refuses an empty list
  }

  succeeded(url: string): void {
    const hub = this.find(url);
    if (hub === undefined) return;
    hub.consecutiveFailures = 0;
    hub.lastSuccessAt = this.now();
  }

  /**
   * A failed request to `url`. When the hub was unavailable and is still the current one, the next
   * request goes to the next hub: returns that URL; otherwise null. A late failure from a hub that is no
   * longer current (two requests were in flight) does not move the client again. An error the hub
   * answered with on purpose (a 404, a refused batch) says nothing about its health and is not counted.
   */
  failed(url: string, error: Error): string | null {
    const hub = this.find(url);
    if (hub === undefined || !isHubUnavailable(error)) return null;
    hub.failures++;
    hub.consecutiveFailures++;
    hub.lastError = error.message;
    hub.lastFailureAt = this.now();
    if (this.hubs.length === 1 || this.current !== url) return null;
    this.index = (this.index + 1) % this.hubs.length;
    this.switches++;
    this.onSwitch(url, this.current, error);
    return this.current;
  }

  status(): HubFailoverStatus {
    return {
      current: this.current,
      switches: this.switches,
      hubs: this.hubs.map((hub, i) => ({ ...hub, current: i === this.index })),
    };
  }

  private find(url: string): HubStatus | undefined {
    return this.hubs.find((hub) => hub.url === url);
  }
}
