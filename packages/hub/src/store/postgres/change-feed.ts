// Hubs sharing one PostgreSQL database tell each other that a site's rules changed, so a client held on
// one hub hears of a change made on another at once (LISTEN/NOTIFY). One dedicated connection per hub,
// outside the store's pool: a LISTEN lives as long as its session. Losing it loses no data, only speed:
// held requests still end at their timeout and clients ask again; the feed reconnects and re-LISTENs,
// and tells its listener that anything may have changed meanwhile.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

const CHANNEL = 'moat_rules_changed';
/** PostgreSQL caps a payload below 8000 bytes; ours is a few dozen. Anything longer is not ours. */
const MAX_PAYLOAD = 512;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface RulesChange {
  siteId: number;
  category: 'custom_rules';
  /** The file name of the new Moat build (names carry the content hash). */
  version: string;
}

/** A change heard from another hub, or `resync` after a reconnect (notifications may have been missed). */
export type ChangeFeedEvent = { kind: 'change'; change: RulesChange } | { kind: 'resync' };

export interface ChangeFeedStats {
  connected: boolean;
  published: number;
  publishFailures: number;
  received: number;
  reconnects: number;
}

export class PostgresChangeFeed {
  private client: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private everConnected = false;
  /** Notifications come back to their sender too; this tells ours apart. */
  private readonly origin = randomUUID();
  private readonly listeners: ((event: ChangeFeedEvent) => void)[] = [];
  private readonly counts = { published: 0, publishFailures: 0, received: 0, reconnects: 0 };

  constructor(
    private readonly connectionString: string,
    private readonly log: (message: string, error?: unknown) => void,
  ) {}

  /** Connects and LISTENs; a failure here is logged and retried in the background, never thrown. */
  async start(): Promise<void> {
    await this.connect();
  }

  listen(listener: (event: ChangeFeedEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Tells the other hubs (not awaited by callers; a failure is counted and logged). */
  publish(change: RulesChange): void {
    const client = this.client;
    if (client === null) {
      this.counts.publishFailures++;
      return;
    }
    const payload = JSON.stringify({ s: change.siteId, c: change.category, v: change.version, o: this.origin });
    client.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]).then(
      () => { this.counts.published++; },
      (error: unknown) => {
        this.counts.publishFailures++;
        this.log('could not tell the other hubs of a rules change; their clients get it at their next request', error);
      },
    );
  }

  stats(): ChangeFeedStats {
    return { connected: this.client !== null, ...this.counts };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true, application_name: 'moat-hub-changes' });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, undefined));
    client.on('notification', (message) => {
      if (message.channel === CHANNEL) this.heard(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.end().catch(() => undefined);
      this.lost(client, error);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    if (this.everConnected) {
      this.counts.reconnects++;
      this.emit({ kind: 'resync' });
    }
    this.everConnected = true;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return; // an old connection's late event
    const wasConnected = this.client === client;
    this.client = null;
    if (this.closed || this.retryTimer !== undefined) return;
    if (wasConnected || this.failures === 0) this.log('lost the rules-change feed connection to PostgreSQL; reconnecting', error);
    this.failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures - 1, 10));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, Math.round(delay / 2 + Math.random() * (delay / 2)));
    this.retryTimer.unref();
  }

  private heard(payload: string | undefined): void {
    if (payload === undefined || payload.length > MAX_PAYLOAD) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    const p = parsed as { s?: unknown; c?: unknown; v?: unknown; o?: unknown };
    if (p.o === this.origin) return;
    if (!Number.isSafeInteger(p.s) || p.c !== 'custom_rules' || typeof p.v !== 'string') return;
    this.counts.received++;
    this.emit({ kind: 'change', change: { siteId: p.s as number, category: 'custom_rules', version: p.v } });
  }

  private emit(event: ChangeFeedEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log('a rules-change listener failed', error);
      }
    }
  }
}
